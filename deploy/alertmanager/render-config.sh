#!/bin/sh
# Renders Alertmanager's config from the template docs/alertmanager.yml, filling in each
# ${ALERT_...} placeholder from the environment (Alertmanager itself reads no environment
# variables). Stops, naming the variable, when a required one is missing or malformed, so a
# misconfigured Alertmanager never starts silently unable to send mail.
# POSIX sh and awk only: it runs in the busybox-based Alertmanager image and on Debian.
# Usage: render-config.sh TEMPLATE OUTPUT
set -eu

template=${1:?usage: render-config.sh TEMPLATE OUTPUT}
output=${2:?usage: render-config.sh TEMPLATE OUTPUT}
required='ALERT_SMTP_SMARTHOST ALERT_SMTP_FROM ALERT_EMAIL_CRITICAL_TO ALERT_EMAIL_WARNING_TO'
optional='ALERT_SMTP_USERNAME ALERT_SMTP_REQUIRE_TLS'

fail() {
  echo "render-config: $*" >&2
  exit 1
}

: "${ALERT_SMTP_USERNAME:=}"
: "${ALERT_SMTP_REQUIRE_TLS:=true}"
export ALERT_SMTP_USERNAME ALERT_SMTP_REQUIRE_TLS

for name in $required; do
  eval "value=\${$name:-}"
  [ -n "$value" ] || fail "$name is not set (see .env.example)"
done
newline='
'
for name in $required $optional; do
  eval "value=\${$name}"
  # Values land in single-quoted YAML strings: a quote or a line break would rewrite the config.
  case $value in
    *"'"* | *"$newline"*) fail "$name must not contain a single quote or a line break" ;;
  esac
done
case $ALERT_SMTP_SMARTHOST in
  *:[0-9]*) ;;
  *) fail "ALERT_SMTP_SMARTHOST must be host:port, e.g. smtp.example.com:587" ;;
esac
case $ALERT_SMTP_REQUIRE_TLS in
  true | false) ;;
  *) fail "ALERT_SMTP_REQUIRE_TLS must be true or false" ;;
esac

awk -v names="$required $optional" '
  BEGIN { n = split(names, list, " "); for (i = 1; i <= n; i++) known[list[i]] = 1 }
  {
    rest = $0; done = ""
    while (match(rest, /[$][{][A-Z_]+[}]/)) {
      name = substr(rest, RSTART + 2, RLENGTH - 3)
      if (!(name in known)) { print "render-config: unknown placeholder " name > "/dev/stderr"; exit 1 }
      done = done substr(rest, 1, RSTART - 1) ENVIRON[name]
      rest = substr(rest, RSTART + RLENGTH)
    }
    print done rest
  }' "$template" >"$output.tmp"
mv "$output.tmp" "$output"
echo "render-config: wrote $output (critical -> $ALERT_EMAIL_CRITICAL_TO, warnings -> $ALERT_EMAIL_WARNING_TO)"
