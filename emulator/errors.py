"""The error catalogue: every documented code with its zh-CN and en-US message, and one exception.

Codes form a two-level tree; the first segment is the category the SDKs and the docs use::

    ActionOffline, DryRunOperation, InternalError, InvalidAction, InvalidRequest, IpInBlacklist,
    IpNotInWhitelist, MissingParameter, NoSuchProduct, NoSuchVersion, RequestSizeLimitExceeded,
    ResourceInUse, ResourceInsufficient, ResourceNotFound, ResponseSizeLimitExceeded,
    ServiceUnavailable, UnauthorizedOperation, UnknownParameter, UnsupportedProtocol,
    UnsupportedRegion                                   (common, no sub-codes)
    AuthFailure.*          signature, key, token and CAM failures (common)
    FailedOperation[.*]    the backend could not do the work (common + bda)
    InvalidParameter[.*]   a parameter has the wrong type or format (common + bda)
    InvalidParameterValue[.*]  a well-typed parameter has an unacceptable value (common + bda)
    LimitExceeded[.*]      quotas and sizes (common + bda)
    RequestLimitExceeded[.*]   rate limits (common)
    ResourceUnavailable[.*]    account billing state (common + bda)
    UnsupportedOperation[.*]   (common + bda)

``ACTION_CODES`` are the 23 codes the API page lists for SegmentCustomizedPortraitPic,
``PORTRAIT_CODES`` the 24 it lists for SegmentPortraitPic (the same less the two face codes,
plus ``BalanceInsufficient``, ``ImageNotForeground`` and ``InvalidParameterValue.ImageEmpty``),
``BDA_CODES`` the 35 of the bda SDK's ``errorcodes.py`` and ``COMMON_CODES`` the 38 common ones.
English texts for bda codes follow the IAI docs where the same code exists there and are
translations otherwise (bda has no English documentation; see the README's deviations table).
Raise :class:`ApiError` anywhere; :mod:`emulator.wire.envelope` is the only place that renders it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Language = Literal["zh-CN", "en-US"]
LANGUAGES: tuple[Language, ...] = ("zh-CN", "en-US")


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """One documented code: default messages plus optional templates for detailed messages."""

    code: str
    zh: str
    en: str
    zh_detail: str | None = None
    en_detail: str | None = None


def _c(code: str, zh: str, en: str, zh_detail: str | None = None,
       en_detail: str | None = None) -> CodeInfo:
    return CodeInfo(code, zh, en, zh_detail, en_detail)


_COMMON = (
    _c("ActionOffline", "接口已下线。", "This API has been deprecated."),
    _c("AuthFailure.InvalidAuthorization", "请求头部的 Authorization 不符合腾讯云标准。",
       "`Authorization` in the request header is invalid.",
       "请求头部的 Authorization 不符合腾讯云标准：{reason}",
       "`Authorization` in the request header is invalid: {reason}"),
    _c("AuthFailure.InvalidSecretId", "密钥非法（不是云 API 密钥类型）。",
       "Invalid key (not a TencentCloud API key type)."),
    _c("AuthFailure.MFAFailure", "MFA 错误。", "MFA failed."),
    _c("AuthFailure.SecretIdNotFound", "SecretId不存在，请输入正确的密钥。",
       "The SecretId is not found, please ensure that your SecretId is correct."),
    _c("AuthFailure.SignatureExpire",
       "签名过期。Timestamp 和服务器时间相差不得超过五分钟，请检查本地时间是否和标准时间同步。",
       "The signature is expired, please request again."),
    _c("AuthFailure.SignatureFailure", "请求签名验证失败，请检查您的签名计算是否正确。",
       "The provided credentials could not be validated. Please check your signature is correct.",
       "请求签名验证失败，请检查您的签名计算是否正确。{reason}",
       "The provided credentials could not be validated. {reason}"),
    _c("AuthFailure.TokenFailure", "token 错误。", "Token error.",
       "token 错误：{reason_zh}", "Token error: {reason}"),
    _c("AuthFailure.UnauthorizedOperation", "请求未授权。请参考 CAM 文档对鉴权的说明。",
       "The request is not authorized. For more information, see the CAM documentation."),
    _c("DryRunOperation", "DryRun 操作，代表请求将会是成功的，只是多传了 DryRun 参数。",
       "DryRun Operation. It means that the request would have succeeded, but the DryRun "
       "parameter was used."),
    _c("FailedOperation", "操作失败。", "Operation failed."),
    _c("InternalError", "内部错误。", "Internal error."),
    _c("InvalidAction", "接口不存在。", "The API does not exist.",
       "请求的接口 action=`{action}` 在 service=`{service}`、version=`{version}` 中不存在。",
       "The request action=`{action}` is invalid or not found in service=`{service}` and "
       "version=`{version}`."),
    _c("InvalidParameter", "参数错误（包括参数格式、类型等错误）。", "Incorrect parameter.",
       "{reason_zh}", "{reason}"),
    _c("InvalidParameterValue", "参数取值错误。", "Invalid parameter value.",
       "{reason_zh}", "{reason}"),
    _c("InvalidRequest", "请求 body 的 multipart 格式错误。",
       "The multipart format of the request body is incorrect."),
    _c("IpInBlacklist", "IP地址在黑名单中。", "Your IP is in uin IP blacklist."),
    _c("IpNotInWhitelist", "IP地址不在白名单中。", "Your IP is not in uin IP whitelist."),
    _c("LimitExceeded", "超过配额限制。", "Quota limit exceeded."),
    _c("MissingParameter", "缺少参数。", "A parameter is missing.",
       "缺少必要参数`{param}`。", "The request is missing a required parameter `{param}`."),
    _c("NoSuchProduct", "产品不存在", "The product does not exist."),
    _c("NoSuchVersion", "接口版本不存在。", "The API version does not exist.",
       "接口版本 version=`{version}` 在 service=`{service}` 中不存在。",
       "The specified api version=`{version}` does not exist in service=`{service}`."),
    _c("RequestLimitExceeded", "请求的次数超过了频率限制。",
       "The number of requests exceeds the frequency limit.",
       "您当前每秒请求 `{count}` 次，超过了每秒频率上限 `{limit}`，请稍后重试。",
       "Your current request times equals to `{count}` in a second, which exceeds the frequency "
       "limit `{limit}` for a second. Please reduce the frequency of calls."),
    _c("RequestLimitExceeded.GlobalRegionUinLimitExceeded", "主账号超过频率限制。",
       "Uin exceeds the frequency limit."),
    _c("RequestLimitExceeded.IPLimitExceeded", "IP限频。",
       "The number of ip requests exceeds the frequency limit."),
    _c("RequestLimitExceeded.UinLimitExceeded", "主账号限频。",
       "The number of uin requests exceeds the frequency limit."),
    _c("RequestSizeLimitExceeded", "请求包超过限制大小。",
       "The request size exceeds the upper limit.",
       "请求包超过限制大小：{reason}", "The request size exceeds the upper limit: {reason}"),
    _c("ResourceInUse", "资源被占用。", "Resource is in use."),
    _c("ResourceInsufficient", "资源不足。", "Insufficient resource."),
    _c("ResourceNotFound", "资源不存在。", "The resource does not exist."),
    _c("ResourceUnavailable", "资源不可用。", "Resource is unavailable."),
    _c("ResponseSizeLimitExceeded", "返回包超过限制大小。",
       "The response size exceeds the upper limit."),
    _c("ServiceUnavailable", "当前服务暂时不可用。", "Service is unavailable now."),
    _c("UnauthorizedOperation", "未授权操作。", "Unauthorized operation."),
    _c("UnknownParameter", "未知参数错误，用户多传未定义的参数会导致错误。", "Unknown parameter.",
       "参数`{param}`无法识别。", "The parameter `{param}` is not recognized."),
    _c("UnsupportedOperation", "操作不支持。", "Unsupported operation.",
       "操作不支持：{reason}", "Unsupported operation: {reason}"),
    _c("UnsupportedProtocol", "http(s) 请求协议错误，只支持 GET 和 POST 请求。",
       "HTTP(S) request protocol error; only GET and POST requests are supported."),
    _c("UnsupportedRegion", "接口不支持所传地域。", "The action not support this region."),
)

_BDA = (
    _c("FailedOperation.AudioDecodeFailed", "音频解码失败。", "Audio decoding failed."),
    _c("FailedOperation.AudioEncodeFailed", "音频编码失败。", "Audio encoding failed."),
    _c("FailedOperation.BalanceInsufficient", "余额不足，开通失败，请充值后再开通。",
       "Insufficient balance; activation failed. Please top up and activate again."),
    _c("FailedOperation.DownloadError", "文件下载失败。", "File download failed."),
    _c("FailedOperation.ImageDecodeFailed", "图片解码失败。", "Image decoding failed.",
       "图片解码失败：{reason}", "Image decoding failed: {reason}"),
    _c("FailedOperation.ImageDownloadError", "图片下载错误。", "Error downloading the image.",
       "图片下载错误：{reason}", "Error downloading the image: {reason}"),
    _c("FailedOperation.ImageFacedetectFailed", "人脸检测失败。", "Face detection failed."),
    _c("FailedOperation.ImageNotForeground", "图片不存在前景。",
       "The image has no foreground."),
    _c("FailedOperation.ImageNotSupported", "不支持的图片文件。", "Unsupported image file.",
       "不支持的图片文件：{reason}", "Unsupported image file: {reason}"),
    _c("FailedOperation.ImageResolutionExceed", "图片分辨率过大。", "Image resolution too large.",
       "图片分辨率过大：{reason}", "Image resolution too large: {reason}"),
    _c("FailedOperation.ImageResolutionInsufficient", "图片分辨率过小。",
       "Image resolution too small.",
       "图片分辨率过小：{reason}", "Image resolution too small: {reason}"),
    _c("FailedOperation.ImageSizeExceed", "base64编码后的图片数据过大。",
       "Base64-encoded image data too large."),
    _c("FailedOperation.InnerError", "服务内部错误，请重试。",
       "Internal service error, please retry."),
    _c("FailedOperation.JobConflict", "任务冲突。", "Job conflict."),
    _c("FailedOperation.JobQueueFull", "任务队列已满。", "The job queue is full."),
    _c("FailedOperation.ProfileNumExceed", "人像数过多。", "Too many portraits."),
    _c("FailedOperation.RequestEntityTooLarge", "整个请求体太大（通常主要是图片）。",
       "The whole request body is too large (usually the image)."),
    _c("FailedOperation.RequestTimeout", "后端服务超时。", "Backend service timed out."),
    _c("FailedOperation.RpcFail", "RPC请求失败，一般为算法微服务故障。",
       "RPC request failed, usually an algorithm micro-service fault."),
    _c("FailedOperation.SegmentFailed", "人像分割失败。", "Portrait segmentation failed."),
    _c("FailedOperation.ServerError", "算法服务异常，请重试。",
       "The algorithm service is exceptional. Please retry."),
    _c("FailedOperation.TaskLimitExceeded", "任务超过上限。", "Task limit exceeded."),
    _c("FailedOperation.TaskNotExist", "任务不存在。", "The task does not exist."),
    _c("FailedOperation.TerminateTaskFailed", "任务取消失败。", "Failed to cancel the task."),
    _c("FailedOperation.TooLargeFileError", "文件太大。", "File too large."),
    _c("FailedOperation.UnKnowError", "内部错误。", "Internal error."),
    _c("FailedOperation.VideoDecodeFailed", "视频解码失败。", "Video decoding failed."),
    _c("InvalidParameter.InvalidParameter", "参数不合法。", "Invalid parameter."),
    _c("InvalidParameterValue.ImageEmpty", "图片为空。", "The image is empty."),
    _c("InvalidParameterValue.NoFaceInPhoto", "图片中没有人脸。",
       "There are no faces in the image."),
    _c("InvalidParameterValue.UrlIllegal", "URL格式不合法。", "Invalid URL format."),
    _c("LimitExceeded.TooLargeFileError", "文件太大。", "File too large.",
       "文件太大：{reason}", "File too large: {reason}"),
    _c("ResourceUnavailable.InArrears", "账号已欠费。", "The account is in arrears."),
    _c("ResourceUnavailable.NotExist", "计费状态未知，请确认是否已在控制台开通服务。",
       "The billing status is unknown. Please check whether the service has been activated "
       "in the console."),
    _c("UnsupportedOperation.UnknowMethod", "未知方法名。", "Unknown method name."),
)

CATALOGUE: Mapping[str, CodeInfo] = {info.code: info for info in (*_COMMON, *_BDA)}
COMMON_CODES: tuple[str, ...] = tuple(info.code for info in _COMMON)
BDA_CODES: tuple[str, ...] = tuple(info.code for info in _BDA)
ACTION_CODES: tuple[str, ...] = (
    "FailedOperation.DownloadError", "FailedOperation.ImageDecodeFailed",
    "FailedOperation.ImageDownloadError", "FailedOperation.ImageFacedetectFailed",
    "FailedOperation.ImageNotSupported", "FailedOperation.ImageResolutionExceed",
    "FailedOperation.ImageResolutionInsufficient", "FailedOperation.ImageSizeExceed",
    "FailedOperation.InnerError", "FailedOperation.ProfileNumExceed",
    "FailedOperation.RequestEntityTooLarge", "FailedOperation.RequestTimeout",
    "FailedOperation.RpcFail", "FailedOperation.SegmentFailed", "FailedOperation.ServerError",
    "FailedOperation.UnKnowError", "InvalidParameter.InvalidParameter",
    "InvalidParameterValue.NoFaceInPhoto", "InvalidParameterValue.UrlIllegal",
    "LimitExceeded.TooLargeFileError", "ResourceUnavailable.InArrears",
    "ResourceUnavailable.NotExist", "UnsupportedOperation.UnknowMethod",
)
#: The bda codes of the three video task actions (the SDK's errorcodes.py; the API pages list no
#: per-action subset).
TASK_CODES: tuple[str, ...] = (
    "FailedOperation.AudioDecodeFailed", "FailedOperation.AudioEncodeFailed",
    "FailedOperation.DownloadError", "FailedOperation.JobConflict",
    "FailedOperation.JobQueueFull", "FailedOperation.TaskLimitExceeded",
    "FailedOperation.TaskNotExist", "FailedOperation.TerminateTaskFailed",
    "FailedOperation.TooLargeFileError", "FailedOperation.VideoDecodeFailed",
)
PORTRAIT_CODES: tuple[str, ...] = tuple(sorted(
    {*ACTION_CODES} - {"FailedOperation.ImageFacedetectFailed",
                       "InvalidParameterValue.NoFaceInPhoto"}
    | {"FailedOperation.BalanceInsufficient", "FailedOperation.ImageNotForeground",
       "InvalidParameterValue.ImageEmpty"}))


class ApiError(Exception):
    """A failure the emulator answers with a documented wire code.

    ``details`` fill the code's detail template (``param``, ``reason``, ``action`` …); when a
    template needs a detail that is missing (e.g. ``reason_zh`` for a Chinese reply) the plain
    documented message is used. ``message`` overrides both languages (scenarios).
    ``explain`` says why, for the test author: it goes to the journal, never on the wire
    (where the real service would say less, e.g. what a Url fetch ran into).
    """

    def __init__(self, code: str, *, message: str | None = None, explain: str | None = None,
                 **details: str) -> None:
        if code not in CATALOGUE:
            raise ValueError(f"undocumented error code {code!r}")
        super().__init__(code)
        self.code = code
        self.details = details
        self.override = message
        self.explain = explain

    def message(self, language: Language) -> str:
        """The message in ``language``, detailed when the code has a template and details."""
        if self.override is not None:
            return self.override
        info = CATALOGUE[self.code]
        zh = language == "zh-CN"
        template = info.zh_detail if zh else info.en_detail
        if template is not None and self.details:
            try:
                return template.format(**self.details)
            except KeyError:
                pass
        return info.zh if zh else info.en

    def __repr__(self) -> str:
        return f"ApiError({self.code!r}, {self.details!r})"
