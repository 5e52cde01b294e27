"""An application that knows nothing of the emulator: the official SDK, no endpoint, no profile.

The client talks to https://bda.tencentcloudapi.com as it would in production; in the Compose
project that name is an alias of the emulator, whose certificate the container trusts. The
credentials and region come from the environment (TENCENTCLOUD_SECRET_ID/_KEY, as the SDK's
credential chain reads them, and TENCENTCLOUD_REGION). Exit 0 after one SegmentPortraitPic.
"""

from __future__ import annotations

import base64
import json
import os

from tencentcloud.bda.v20200324 import bda_client, models
from tencentcloud.common import credential

URL = "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg"


def main() -> None:
    cred = credential.EnvironmentVariableCredential().get_credential()
    if cred is None:
        raise SystemExit("app: set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY")
    client = bda_client.BdaClient(cred, os.environ.get("TENCENTCLOUD_REGION", "ap-guangzhou"))
    req = models.SegmentPortraitPicRequest()
    req.Url = URL
    resp = client.SegmentPortraitPic(req)
    cutout = base64.b64decode(resp.ResultImage, validate=True)
    print(json.dumps({"Action": "SegmentPortraitPic", "RequestId": resp.RequestId,
                      "ResultImageBytes": len(cutout)}))


if __name__ == "__main__":
    main()
