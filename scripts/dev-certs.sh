#!/usr/bin/env bash
# Issues development credentials into DIR (default: ./dev-certs, never commit it):
#   ca.pem / ca.key            a throwaway CA (signs the service certificates)
#   service.pem / service.key  one certificate for all three services (server and mutual-TLS
#                              client), valid for localhost, 127.0.0.1 and the given DNS names
#   token.key / token.pub      the Ed25519 key pair of bearer tokens (`gouji token issue --key`)
# Usage: scripts/dev-certs.sh [DIR] [DNS name…]     (needs openssl)
# Production keys come from your PKI and secret store; see docs/security.md.
set -euo pipefail

DIR=${1:-dev-certs}
shift || true
mkdir -p "$DIR"
umask 077

SAN="DNS:localhost,IP:127.0.0.1,IP:::1"
for name in "$@"; do SAN="$SAN,DNS:$name"; done

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=gouji development CA" -keyout "$DIR/ca.key" -out "$DIR/ca.pem" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=gouji-service" -keyout "$DIR/service.key" -out "$DIR/service.csr" 2>/dev/null
openssl x509 -req -in "$DIR/service.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" -CAcreateserial \
  -days 30 -out "$DIR/service.pem" \
  -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\n' "$SAN") 2>/dev/null
rm -f "$DIR/service.csr" "$DIR/ca.srl"
openssl genpkey -algorithm ed25519 -out "$DIR/token.key"
openssl pkey -in "$DIR/token.key" -pubout -out "$DIR/token.pub"
echo "development credentials in $DIR (CA, service certificate, token key pair)" >&2
