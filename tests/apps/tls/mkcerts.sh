#!/bin/sh
# mkcerts.sh DIR IP...: a throwaway CA (DIR/ca.pem) and one server certificate
# (DIR/server.pem, DIR/server.key) valid for every IP given.
set -eu
dir=$1; shift
san=""
for ip in "$@"; do san="${san:+$san,}IP:$ip"; done
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=weft-test-ca \
	-keyout "$dir/ca.key" -out "$dir/ca.pem" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj /CN=weft-test \
	-keyout "$dir/server.key" -out "$dir/server.csr" >/dev/null 2>&1
printf 'subjectAltName=%s\n' "$san" >"$dir/ext.cnf"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
	-CAcreateserial -days 2 -extfile "$dir/ext.cnf" -out "$dir/server.pem" >/dev/null 2>&1
