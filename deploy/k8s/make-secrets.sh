#!/bin/sh
# Creates the files deploy/k8s/kustomization.yaml turns into the Secret sekimori-secrets:
#   mitmproxy-ca.pem       the interception CA: private key + certificate (mitmproxy's format)
#   mitmproxy-ca-cert.pem  the certificate alone: distribute it to clients (never the key)
#   quarantine.key         the AES-256 key of the quarantine, as "id:base64" lines
# Usage: deploy/k8s/make-secrets.sh [DIR] [ORGANISATION]   (default DIR: deploy/k8s/secrets)
# Existing files are kept: a new CA means every client must trust it again, and a new
# quarantine key must be appended (keys rotate), never replace the old one.
set -eu
dir=${1:-$(dirname "$0")/secrets}
org=${2:-Sekimori}
umask 077
mkdir -p "$dir"

if [ -e "$dir/mitmproxy-ca.pem" ]; then
    echo "keeping $dir/mitmproxy-ca.pem" >&2
else
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    openssl req -x509 -newkey rsa:3072 -sha256 -days 3650 -nodes \
        -keyout "$tmp/ca.key" -out "$tmp/ca.crt" \
        -subj "/O=$org/CN=$org egress inspection CA" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" 2>/dev/null
    cat "$tmp/ca.key" "$tmp/ca.crt" > "$dir/mitmproxy-ca.pem"
    cp "$tmp/ca.crt" "$dir/mitmproxy-ca-cert.pem"
    chmod 0644 "$dir/mitmproxy-ca-cert.pem"
    echo "created $dir/mitmproxy-ca.pem and $dir/mitmproxy-ca-cert.pem (give clients the -cert.pem)" >&2
fi

if [ -e "$dir/quarantine.key" ]; then
    echo "keeping $dir/quarantine.key" >&2
else
    printf 'k%s:%s\n' "$(date -u +%Y%m%d%H%M%S)" "$(openssl rand -base64 32)" > "$dir/quarantine.key"
    echo "created $dir/quarantine.key (back it up: held items cannot be read without it)" >&2
fi
