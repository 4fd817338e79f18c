#!/usr/bin/env bash
# The app's own build step: generates the program the image runs.
set -euo pipefail
mkdir -p bin
cat > bin/hello <<'PROGRAM'
#!/usr/bin/env bash
echo "Hello from Slipway! (${GREETING:-no greeting})"
PROGRAM
chmod +x bin/hello
echo "generated bin/hello"
