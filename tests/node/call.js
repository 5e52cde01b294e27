// One call through the official Node SDK: a JSON job on stdin, a JSON outcome on stdout.
// Job: {endpoint, action, params, secretId, secretKey, region, language?, signMethod?, reqMethod?,
//       protocol? ("http://" by default; "https://" with no endpoint: the production name),
//       proxy?} — trust a CA with NODE_EXTRA_CA_CERTS in the environment.
// Outcome: {ok: true, response} or {ok: false, code, message, requestId}.
"use strict";
const { bda } = require("tencentcloud-sdk-nodejs/tencentcloud/services/bda");

let input = "";
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", async () => {
  const job = JSON.parse(input);
  const client = new bda.v20200324.Client({
    credential: { secretId: job.secretId, secretKey: job.secretKey },
    region: job.region,
    profile: {
      signMethod: job.signMethod || "TC3-HMAC-SHA256",
      language: job.language || "en-US",
      httpProfile: { endpoint: job.endpoint || undefined, protocol: job.protocol || "http://",
                     proxy: job.proxy || undefined,
                     reqMethod: job.reqMethod || "POST", reqTimeout: 30 },
    },
  });
  try {
    const response = await client[job.action](job.params);
    process.stdout.write(JSON.stringify({ ok: true, response }));
  } catch (err) {
    process.stdout.write(JSON.stringify({ ok: false, code: err.code, message: err.message,
                                          requestId: err.requestId }));
  }
});
