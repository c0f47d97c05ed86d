"""Keras builds by hand of fit-set networks that ``tf.keras.applications`` lacks, layer by layer as their TF
sources define them (random weights; a Conv + BatchNorm is a Conv with bias, as the Model Optimizer folds it):

- ``inception_v4``: TF-slim ``inception_v4`` (OMZ ``inception-v4-tf``, 299x299, 1001 classes, softmax).
- ``inception_resnet_v1``: davidsandberg/facenet ``inception_resnet_v1`` (OMZ ``facenet-20180408-102900``,
  160x160, 512-d bottleneck, L2-normalized by an ONNX LpNormalization appended after conversion).
- ``yolo_v4``: CSPDarknet53 + SPP + PANet of david8862/keras-YOLOv3-model-set (OMZ ``yolo-v4-tf``, 608x608, the
  three raw 255-channel heads; Mish as x * tanh(softplus(x)), leaky ReLU 0.1, darknet's top-left padding).
- ``ssd_mobilenet_v1``: TF OD API ``ssd_mobilenet_v1_coco`` (OMZ ``ssd_mobilenet_v1_coco``, 300x300, 91 classes),
  its post-processing as the Model Optimizer writes it (PriorBoxClustered, DetectionOutput) added in the ONNX.
"""

import tensorflow as tf

L = tf.keras.layers


def conv(x, filters, kernel, stride=1, padding="same", act="relu"):
    kernel = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    x = L.Conv2D(filters, kernel, strides=stride, padding=padding, use_bias=True)(x)
    if act == "relu":
        return L.ReLU()(x)
    if act == "leaky":
        return L.LeakyReLU(negative_slope=0.1)(x)
    if act == "mish":
        return L.Multiply()([x, L.Activation("tanh")(L.Activation("softplus")(x))])
    return x


def _cat(xs):
    return L.Concatenate(axis=-1)(xs)


def _avg(x):
    return L.AveragePooling2D(3, strides=1, padding="same")(x)


def _maxv(x):
    return L.MaxPooling2D(3, strides=2, padding="valid")(x)


def inception_v4(size=299, classes=1001):
    inp = L.Input((size, size, 3), batch_size=1)
    x = conv(inp, 32, 3, 2, "valid")
    x = conv(x, 32, 3, 1, "valid")
    x = conv(x, 64, 3)
    x = _cat([_maxv(x), conv(x, 96, 3, 2, "valid")])  # Mixed_3a
    x = _cat([conv(conv(x, 64, 1), 96, 3, 1, "valid"),  # Mixed_4a
              conv(conv(conv(conv(x, 64, 1), 64, (1, 7)), 64, (7, 1)), 96, 3, 1, "valid")])
    x = _cat([conv(x, 192, 3, 2, "valid"), _maxv(x)])  # Mixed_5a
    for _ in range(4):  # Mixed_5b..e
        x = _cat([conv(x, 96, 1), conv(conv(x, 64, 1), 96, 3), conv(conv(conv(x, 64, 1), 96, 3), 96, 3),
                  conv(_avg(x), 96, 1)])
    x = _cat([conv(x, 384, 3, 2, "valid"),  # Mixed_6a
              conv(conv(conv(x, 192, 1), 224, 3), 256, 3, 2, "valid"), _maxv(x)])
    for _ in range(7):  # Mixed_6b..h
        b1 = conv(conv(conv(x, 192, 1), 224, (1, 7)), 256, (7, 1))
        b2 = conv(conv(conv(conv(conv(x, 192, 1), 192, (7, 1)), 224, (1, 7)), 224, (7, 1)), 256, (1, 7))
        x = _cat([conv(x, 384, 1), b1, b2, conv(_avg(x), 128, 1)])
    x = _cat([conv(conv(x, 192, 1), 192, 3, 2, "valid"),  # Mixed_7a
              conv(conv(conv(conv(x, 256, 1), 256, (1, 7)), 320, (7, 1)), 320, 3, 2, "valid"), _maxv(x)])
    for _ in range(3):  # Mixed_7b..d
        b1 = conv(x, 384, 1)
        b2 = conv(conv(conv(x, 384, 1), 448, (3, 1)), 512, (1, 3))
        x = _cat([conv(x, 256, 1), _cat([conv(b1, 256, (1, 3)), conv(b1, 256, (3, 1))]),
                  _cat([conv(b2, 256, (1, 3)), conv(b2, 256, (3, 1))]), conv(_avg(x), 256, 1)])
    x = L.AveragePooling2D(x.shape[1], padding="valid")(x)
    x = L.Flatten()(x)
    x = L.Dense(classes, activation="softmax")(x)
    return tf.keras.Model(inp, x)


def _residual(x, up, scale, relu=True):
    x = L.Add()([x, L.Rescaling(scale)(up)]) if scale != 1.0 else L.Add()([x, up])
    return L.ReLU()(x) if relu else x


def inception_resnet_v1(size=160, bottleneck=512):
    inp = L.Input((size, size, 3), batch_size=1)
    x = conv(inp, 32, 3, 2, "valid")
    x = conv(x, 32, 3, 1, "valid")
    x = conv(x, 64, 3)
    x = _maxv(x)
    x = conv(x, 80, 1, 1, "valid")
    x = conv(x, 192, 3, 1, "valid")
    x = conv(x, 256, 3, 2, "valid")
    for _ in range(5):  # block35, scale 0.17
        mixed = _cat([conv(x, 32, 1), conv(conv(x, 32, 1), 32, 3), conv(conv(conv(x, 32, 1), 32, 3), 32, 3)])
        x = _residual(x, conv(mixed, 256, 1, act=None), 0.17)
    x = _cat([conv(x, 384, 3, 2, "valid"), conv(conv(conv(x, 192, 1), 192, 3), 256, 3, 2, "valid"), _maxv(x)])
    for _ in range(10):  # block17, scale 0.10
        mixed = _cat([conv(x, 128, 1), conv(conv(conv(x, 128, 1), 128, (1, 7)), 128, (7, 1))])
        x = _residual(x, conv(mixed, 896, 1, act=None), 0.10)
    x = _cat([conv(conv(x, 256, 1), 384, 3, 2, "valid"), conv(conv(x, 256, 1), 256, 3, 2, "valid"),
              conv(conv(conv(x, 256, 1), 256, 3), 256, 3, 2, "valid"), _maxv(x)])
    for i in range(6):  # block8: 5 x scale 0.20 with ReLU, then one with scale 1.0 and no activation
        mixed = _cat([conv(x, 192, 1), conv(conv(conv(x, 192, 1), 192, (1, 3)), 192, (3, 1))])
        x = _residual(x, conv(mixed, 1792, 1, act=None), 0.20 if i < 5 else 1.0, relu=i < 5)
    x = L.AveragePooling2D(x.shape[1], padding="valid")(x)
    x = L.Flatten()(x)
    x = L.Dense(bottleneck)(x)
    return tf.keras.Model(inp, x)  # the L2 normalization is added to the ONNX (ONNX_TAIL)


# ops appended to the ONNX after conversion: TF's l2_normalize decomposes into 7 small SHAVE stages where the
# Model Optimizer writes one NormalizeL2; ONNX LpNormalization is read as NormalizeL2
ONNX_TAIL = {"inception_resnet_v1": ("LpNormalization", {"axis": 1, "p": 2}),
             "ssd_mobilenet_v1": "ssd_postprocess"}  # a name: a function of myriad_fitset_onnx


def _dconv(x, filters, kernel, stride=1, act="leaky"):
    if stride == 2:
        x = L.ZeroPadding2D(((1, 0), (1, 0)))(x)
        return conv(x, filters, kernel, 2, "valid", act)
    return conv(x, filters, kernel, 1, "same", act)


def _up2(x):
    """Nearest 2x upsampling as TF's ResizeNearestNeighbor (an Interpolate in the IR; Keras 3's UpSampling2D
    would write two Tiles)."""
    return L.Resizing(x.shape[1] * 2, x.shape[2] * 2, interpolation="nearest")(x)


def _csp(x, filters, blocks, narrow=True):
    x = _dconv(x, filters, 3, 2, "mish")
    half = filters // 2 if narrow else filters
    shortcut = _dconv(x, half, 1, act="mish")
    x = _dconv(x, half, 1, act="mish")
    for _ in range(blocks):
        x = L.Add()([x, _dconv(_dconv(x, filters // 2, 1, act="mish"), half, 3, act="mish")])
    x = _cat([_dconv(x, half, 1, act="mish"), shortcut])
    return _dconv(x, filters, 1, act="mish")


def _five(x, filters):
    for i in range(5):
        x = _dconv(x, filters if i % 2 == 0 else filters * 2, 1 if i % 2 == 0 else 3)
    return x


def yolo_v4(size=608, outputs=255):
    inp = L.Input((size, size, 3), batch_size=1)
    x = _dconv(inp, 32, 3, act="mish")
    x = _csp(x, 64, 1, narrow=False)
    x = _csp(x, 128, 2)
    f3 = _csp(x, 256, 8)
    f2 = _csp(f3, 512, 8)
    f1 = _csp(f2, 1024, 4)
    x1 = _dconv(_dconv(_dconv(f1, 512, 1), 1024, 3), 512, 1)
    x1 = _cat([L.MaxPooling2D(k, strides=1, padding="same")(x1) for k in (13, 9, 5)] + [x1])
    x1 = _dconv(_dconv(_dconv(x1, 512, 1), 1024, 3), 512, 1)
    x2 = _cat([_dconv(f2, 256, 1), _up2(_dconv(x1, 256, 1))])
    x2 = _five(x2, 256)
    x3 = _cat([_dconv(f3, 128, 1), _up2(_dconv(x2, 128, 1))])
    x3 = _five(x3, 128)
    y3 = conv(_dconv(x3, 256, 3), outputs, 1, act=None)
    x2 = _five(_cat([_dconv(x3, 256, 3, 2), x2]), 256)
    y2 = conv(_dconv(x2, 512, 3), outputs, 1, act=None)
    x1 = _five(_cat([_dconv(x2, 512, 3, 2), x1]), 512)
    y1 = conv(_dconv(x1, 1024, 3), outputs, 1, act=None)
    return tf.keras.Model(inp, [y1, y2, y3])


SSD_ANCHORS = (3, 6, 6, 6, 6, 6)  # TF OD API ssd_anchor_generator, reduce_boxes_in_lowest_layer
SSD_CLASSES = 91


def ssd_mobilenet_v1(size=300):
    """TF OD API ``ssd_mobilenet_v1_coco``: the (2/255)x - 1 preprocessing, MobileNetV1 (ReLU6, TF's SAME padding:
    Keras's MobileNet pads differently, 18x18 maps at 300 instead of 19x19), four extra 1x1 + 3x3/2 layers on
    Conv2d_13 (512, 256, 256, 128), and 1x1 box and class predictors on six maps. Outputs: six box then six class
    tensors (NHWC, as the predictors' BiasAdd); the
    Transpose/Reshape/Concat, sigmoid, priors and DetectionOutput are appended to the ONNX by
    :func:`myriad_fitset_onnx.ssd_postprocess`."""
    inp = L.Input((size, size, 3), batch_size=1)
    x = L.Rescaling(2.0 / 255, offset=-1.0)(inp)
    x = L.ReLU(max_value=6.0)(conv(x, 32, 3, 2, "same", act=None))
    maps = []
    for i, (filters, stride) in enumerate([(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5
                                          + [(1024, 2), (1024, 1)]):
        x = L.ReLU(max_value=6.0)(L.DepthwiseConv2D(3, strides=stride, padding="same")(x))
        x = L.ReLU(max_value=6.0)(conv(x, filters, 1, act=None))
        if i in (10, 12):  # Conv2d_11_pointwise (19x19x512), Conv2d_13_pointwise (10x10x1024)
            maps.append(x)
    for depth in (512, 256, 256, 128):
        x = conv(x, depth // 2, 1, act=None)
        x = L.ReLU(max_value=6.0)(x)
        x = L.ReLU(max_value=6.0)(conv(x, depth, 3, 2, "same", act=None))
        maps.append(x)
    boxes = [conv(m, a * 4, 1, act=None) for m, a in zip(maps, SSD_ANCHORS)]
    classes = [conv(m, a * SSD_CLASSES, 1, act=None) for m, a in zip(maps, SSD_ANCHORS)]
    return tf.keras.Model(inp, boxes + classes)
