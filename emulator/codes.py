"""Which natural input yields which documented code: the table behind ``bda-emulator codes``.

Codes not listed here are reachable only through scenarios (``fixtures/scenarios/errors/``).
"""

from __future__ import annotations

from collections.abc import Mapping

from emulator.errors import ACTION_CODES, BDA_CODES, CATALOGUE, COMMON_CODES

NATURAL_INPUTS: Mapping[str, str] = {
    "UnsupportedProtocol": "an HTTP method other than GET or POST",
    "RequestSizeLimitExceeded": "GET over 32 KB, v1 POST over 1 MB, v3 POST over 10 MB",
    "InvalidParameter": "wrong JSON type, malformed JSON/query/form, a Content-Type that does "
                        "not fit the signature method, a malformed HTTP request",
    "AuthFailure.InvalidAuthorization": "Authorization header missing or malformed",
    "MissingParameter": "Action, Version, Timestamp, Region, SecretId, Signature, Nonce, "
                        "SegmentationOptions, or both Image and Url missing",
    "AuthFailure.SignatureExpire": "a timestamp more than 300 s from the emulator's clock",
    "AuthFailure.SignatureFailure": "wrong key, changed body or signed header, wrong scope date",
    "AuthFailure.SecretIdNotFound": "an unknown or disabled SecretId",
    "AuthFailure.TokenFailure": "temporary keys without, with a wrong or an expired token",
    "InvalidAction": "an action other than SegmentCustomizedPortraitPic",
    "NoSuchVersion": "a version other than 2020-03-24",
    "UnsupportedRegion": "a region other than ap-beijing, ap-guangzhou, ap-shanghai",
    "ResourceUnavailable.InArrears": "keys of an account in state in_arrears",
    "ResourceUnavailable.NotExist": "keys of an account in state not_activated",
    "AuthFailure.UnauthorizedOperation": "keys of an account in state unauthorized",
    "UnknownParameter": "a parameter the schema does not define",
    "InvalidParameterValue": "no SegmentationOptions member true",
    "UnsupportedOperation": "a path other than /",
    "FailedOperation.ImageSizeExceed": "base64 Image over 5 MiB",
    "FailedOperation.ImageDecodeFailed": "invalid base64, not an image, corrupt pixels",
    "FailedOperation.ImageNotSupported": "GIF, WebP, TIFF and other non PNG/JPEG/BMP images",
    "FailedOperation.ImageResolutionExceed": "a side of 2000 px or more",
    "FailedOperation.ImageResolutionInsufficient": "a side under 32 px",
    "InvalidParameterValue.UrlIllegal": "a Url that is not http(s)://host...",
    "FailedOperation.ImageDownloadError": "an unreachable, refused, failing or empty Url",
    "LimitExceeded.TooLargeFileError": "a Url body over 3.75 MiB",
    "InvalidParameterValue.NoFaceInPhoto": "an image without a subject (uniform)",
    "FailedOperation.ImageFacedetectFailed": "a largest subject under 32x48 px",
    "FailedOperation.ProfileNumExceed": "more than 5 separate subjects",
    "FailedOperation.RequestTimeout": "a body slower than --read-timeout, image work over "
                                      "--image-timeout",
    "InternalError": "(an emulator bug, logged with its RequestId)",
}


def group(code: str) -> str:
    """``action``, ``bda`` or ``common``: where the docs list the code."""
    if code in ACTION_CODES:
        return "action"
    return "bda" if code in BDA_CODES else "common"


def rows() -> list[tuple[str, str, str, str, str]]:
    """(code, group, zh-CN message, en-US message, natural input) for every documented code."""
    order = [*ACTION_CODES, *(c for c in BDA_CODES if c not in ACTION_CODES), *COMMON_CODES]
    return [(code, group(code), CATALOGUE[code].zh, CATALOGUE[code].en,
             NATURAL_INPUTS.get(code, "scenario only"))
            for code in order]
