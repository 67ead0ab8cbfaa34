"""Protocol step 1: from file bytes to the fully decoded image that every hasher sees.

A federation only works if every node computes the same hash from the same file, so the
preprocessing is part of the protocol:

1. Only JPEG (including MPO), PNG (including APNG), GIF, WebP, BMP, TIFF, AVIF and JPEG 2000 are
   decoded. These carry real magic numbers; Pillow's other plugins (TGA, PCX, SPIDER, ...)
   accept weak signatures that arbitrary files can match, and their decoders are a needless
   attack surface for untrusted uploads.
2. The declared width x height is checked against ``max_pixels`` before any pixel is decoded
   (``Image.open`` only reads the header), so a small file declaring a huge canvas costs
   nothing. Pillow's own decompression-bomb error, above twice ``Image.MAX_IMAGE_PIXELS``, is
   reported the same way.
3. The image is decoded completely. Truncated data is an error, never padded with grey:
   a silently half-grey image would yield a plausible but wrong hash.
4. Animated images (GIF, APNG, WebP, multi-page TIFF, MPO) are hashed by their first frame,
   the one every viewer shows first and the one the reference tools hash.
5. EXIF orientation is NOT applied: pixels are hashed as stored. The reference C++
   pdq-photo-hasher, python-threatexchange's ``pdq_from_bytes`` and therefore HMA all hash
   the stored pixel grid without looking at EXIF, and so do the hashes members already hold
   from them. Rotating first would put every EXIF-rotated photo about 128 bits (unrelated)
   away from those hashes. A copy re-saved with the rotation baked in is therefore not a PDQ
   match today; matching PDQ's dihedral variants at lookup is the planned remedy, rather than
   changing what is published.
6. The image is converted to RGB by the rules in ``node.hashing.rgb`` (alpha composited on
   white, I/F stretched, LAB through LittleCMS), then each hasher runs on that same RGB image;
   PDQ on the full resolution, as the reference implementation does.
"""

from __future__ import annotations

import io
from pathlib import PurePath

from PIL import Image, UnidentifiedImageError

from node.errors import ImageTooLargeError, MediaError
from node.hashing.rgb import to_rgb

# 8192 x 8192 = 64 Mpx. Covers every camera original in common use (full-frame 61 Mpx sensors,
# 50 Mpx phone modes) and is far above what platforms serve (Twitter/X caps at 4096 px a side).
# Measured cost at the limit: PDQ on the full resolution peaks near 2.1 GB of memory (pdqhash
# computes luma in float64) and takes ~9 s on one core, so a node's hashing concurrency times
# ~2 GB is the memory to provision. Below Pillow's warning threshold (~89.5 Mpx) on purpose.
DEFAULT_MAX_PIXELS = 8192 * 8192

_DECODED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF", "JPEG2000")

# Names that promise an image: if such a file does not decode, hashing only its bytes would
# silently drop the perceptual hashes the operator expects, so it is an error instead.
IMAGE_EXTENSIONS = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".gif", ".webp", ".bmp", ".dib",
        ".tif", ".tiff", ".heic", ".heif", ".avif", ".jxl", ".jp2", ".j2k", ".jpf", ".jpx",
    }
)  # fmt: skip


def load_image(data: bytes, *, name: str = "", max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode ``data`` into the RGB image that is hashed (see the module docstring).

    ``name`` only improves error messages here. Raises MediaError if the data is empty, not an
    image, truncated or undecodable, and ImageTooLargeError above ``max_pixels``. Pillow's own
    limits still apply on top: above ``Image.MAX_IMAGE_PIXELS`` it warns, above twice that it
    refuses (reported as ImageTooLargeError too).
    """
    image = decode_if_image(data, name=name, max_pixels=max_pixels)
    if image is None:
        raise MediaError(f"{_label(name)} is not a decodable image: {_not_an_image_reason()}")
    return image


def decode_if_image(data: bytes, *, name: str, max_pixels: int) -> Image.Image | None:
    """Like ``load_image``, but return None for data that is not an image and whose name does
    not claim to be one (a video, a PDF), so the caller can still hash its bytes.
    """
    if max_pixels < 1:
        raise ValueError(f"max_pixels is {max_pixels}; expected a positive pixel count")
    label = _label(name)
    if not data:
        raise MediaError(f"{label}: file is empty (0 bytes); expected media to hash")
    try:
        image = Image.open(io.BytesIO(data), formats=_available_formats())
    except UnidentifiedImageError:
        if PurePath(name).suffix.lower() in IMAGE_EXTENSIONS:
            raise MediaError(
                f"{label} is not a decodable image: {_not_an_image_reason()}"
            ) from None
        return None
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(
            f"{label} declares more pixels than Pillow will decode at all ({exc}); "
            f"the limit is {max_pixels:,} pixels"
        ) from exc
    except Exception as exc:
        # A plugin recognised the format but choked on the header; Pillow reports that with
        # assorted exception types (OSError, ValueError, EOFError...).
        raise MediaError(f"{label} has a corrupt image header: {exc}") from exc

    width, height = image.size
    if width * height == 0:
        raise MediaError(f"{label} is a {width}x{height} image; expected at least one pixel")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{label} is {width}x{height} = {width * height:,} pixels; "
            f"the limit is {max_pixels:,} pixels"
        )
    try:
        # load() decodes the first frame only; animated files stop there on purpose.
        image.load()
    except Exception as exc:
        # Every failure inside the decoder is the file's fault: truncation (OSError), corrupt
        # data (SyntaxError, ValueError, struct.error...). ImageFile.LOAD_TRUNCATED_IMAGES is
        # left False, so partial data always lands here instead of being padded.
        raise MediaError(f"{label} could not be decoded completely: {exc}") from exc
    try:
        return to_rgb(image)
    except ValueError as exc:
        raise MediaError(
            f"{label} has pixel mode {image.mode}, which has no conversion to RGB: {exc}"
        ) from exc


def _available_formats() -> list[str]:
    # AVIF and JPEG 2000 depend on how Pillow was built; Image.open fails on unknown names.
    Image.init()
    return [name for name in _DECODED_FORMATS if name in Image.OPEN]


def _not_an_image_reason() -> str:
    return f"its bytes are not {', '.join(_available_formats())} data"


def _label(name: str) -> str:
    return name or "input"
