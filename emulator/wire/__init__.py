"""The Tencent Cloud API 3.0 contract for any action: the raw request, parameters, signatures,
credentials, the gateway's checks and the diagnosis of what they refuse (for the journal),
schema validation and the reply envelope. No Pillow, no aiohttp.web: plain values in and out."""
