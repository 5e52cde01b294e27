#!/bin/sh
# Trust the bda emulator's CA, then run the application (the arguments) unmodified.
#
# The CA comes from $BDA_EMULATOR_CA_URL (docker-compose.yml: the emulator's
# http://bda-emulator:9527/_emulator/ca.pem) and is appended to certifi's bundle: the
# Python SDK (and tccli) verify against certifi.where() only. The same step by hand:
#   python -c 'import urllib.request; print(urllib.request.urlopen("http://bda-emulator:9527/_emulator/ca.pem").read().decode(), end="")' > /tmp/bda-emulator-ca.pem
#   cat /tmp/bda-emulator-ca.pem >> "$(python -m certifi)"
# Appended once per container: a restart finds it there already.
set -eu
ca=/tmp/bda-emulator-ca.pem
python - "${BDA_EMULATOR_CA_URL:?set BDA_EMULATOR_CA_URL}" "$ca" <<'PY'
import sys, time, urllib.request

url, out = sys.argv[1], sys.argv[2]
for attempt in range(10):  # the emulator may still be starting (without depends_on healthy)
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            pem = resp.read()
        break
    except OSError as exc:
        if attempt == 9:
            sys.exit(f"trust-emulator-ca: no CA from {url}: {exc}")
        time.sleep(1)
if b"-----BEGIN CERTIFICATE-----" not in pem:
    sys.exit(f"trust-emulator-ca: {url} answered no PEM certificate")
open(out, "wb").write(pem)
PY
bundle=$(python -m certifi)
if ! grep -qxF "$(sed -n 2p "$ca")" "$bundle"; then
    cat "$ca" >> "$bundle"
fi
echo "trust-emulator-ca: $bundle trusts the emulator's CA ($BDA_EMULATOR_CA_URL)" >&2
exec "$@"
