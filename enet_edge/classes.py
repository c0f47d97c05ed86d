"""CamVid classes and palette: the one place they are defined (they go into every manifest)."""

CAMVID_CLASSES = (
    "Sky",
    "Building",
    "Pole",
    "Road",
    "Pavement",
    "Tree",
    "SignSymbol",
    "Fence",
    "Car",
    "Pedestrian",
    "Bicyclist",
    "Unlabelled",
)
"""Label ids 0..11; id 11 (Unlabelled) is void: weight 0 in the loss and ignored in mIoU."""

VOID_LABEL = 11
NUM_CLASSES = len(CAMVID_CLASSES)

# The usual SegNet/ENet CamVid palette, RGB, one row per label id.
CAMVID_PALETTE_RGB = (
    (128, 128, 128),  # Sky
    (128, 0, 0),  # Building
    (192, 192, 128),  # Pole
    (128, 64, 128),  # Road
    (60, 40, 222),  # Pavement
    (128, 128, 0),  # Tree
    (192, 128, 128),  # SignSymbol
    (64, 64, 128),  # Fence
    (64, 0, 128),  # Car
    (64, 64, 0),  # Pedestrian
    (0, 128, 192),  # Bicyclist
    (0, 0, 0),  # Unlabelled
)
