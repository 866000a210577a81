#!/bin/sh
# Renders alertmanager.yml with the receivers that .env configures, then runs
# Alertmanager on the result; its arguments go to Alertmanager. Alertmanager
# does not expand variables in its configuration, hence this step.
#
#   ALERT_WEBHOOK_URL  every notification, firing and resolved, is POSTed
#                      there as Alertmanager's webhook JSON
#   ALERT_EMAIL_TO     address(es) the e-mails go to, through
#   SMTP_SMARTHOST     host:port of the mail server, from
#   SMTP_FROM          this sender; with
#   SMTP_USERNAME      the server asks for a login: the password is the
#                      secret file smtp_password
#   SMTP_REQUIRE_TLS   true (default) or false: STARTTLS required
#
# Unset or empty, a receiver is left out. Only shell built-ins are used: the
# upstream image has busybox, the local stand-in Debian's tools, and this
# works with either. ALERTMANAGER_DIR (default /etc/alertmanager) and
# ALERTMANAGER_RENDERED (default /tmp/alertmanager.yml) are for
# observability/check.sh, which renders without starting Alertmanager
# (ALERTMANAGER_RENDER_ONLY=1).
set -eu

dir=${ALERTMANAGER_DIR:-/etc/alertmanager}
out=${ALERTMANAGER_RENDERED:-/tmp/alertmanager.yml}
# Alertmanager reads the URL from a file of its own: no quoting to get
# wrong, and the URL (which often holds a token) is not in the YAML that
# /api/v2/status shows.
url_file=${out%.yml}.webhook-url

die() {
	echo "alertmanager: $*" >&2
	exit 1
}

# plain NAME VALUE: the values written into the YAML go there single-quoted.
# Such a string cannot hold a line break, and a quote would need doubling:
# both are refused, as no address or host name has them.
plain() {
	case $2 in
	*"'"* | *'
'*) die "$1 holds a quote or a line break" ;;
	esac
}

webhook=${ALERT_WEBHOOK_URL:-}
email_to=${ALERT_EMAIL_TO:-}
case $webhook in
'' | http://* | https://*) ;;
*) die "ALERT_WEBHOOK_URL must start with http:// or https://" ;;
esac
if [ -n "$email_to" ]; then
	plain ALERT_EMAIL_TO "$email_to"
	plain SMTP_SMARTHOST "${SMTP_SMARTHOST:-}"
	plain SMTP_FROM "${SMTP_FROM:-}"
	plain SMTP_USERNAME "${SMTP_USERNAME:-}"
	[ -n "${SMTP_SMARTHOST:-}" ] || die "ALERT_EMAIL_TO is set but SMTP_SMARTHOST (host:port of the mail server) is not"
	[ -n "${SMTP_FROM:-}" ] || die "ALERT_EMAIL_TO is set but SMTP_FROM (the sender's address) is not"
fi
case ${SMTP_REQUIRE_TLS:-true} in
true | false) ;;
*) die "SMTP_REQUIRE_TLS must be true or false" ;;
esac

# smtp INDENT: the global SMTP settings, when e-mail is configured.
smtp() {
	[ -n "$email_to" ] || return 0
	printf '%ssmtp_smarthost: %s\n' "$1" "'$SMTP_SMARTHOST'"
	printf '%ssmtp_from: %s\n' "$1" "'$SMTP_FROM'"
	printf '%ssmtp_require_tls: %s\n' "$1" "${SMTP_REQUIRE_TLS:-true}"
	if [ -n "${SMTP_USERNAME:-}" ]; then
		[ -r /run/secrets/smtp_password ] || [ -n "${ALERTMANAGER_RENDER_ONLY:-}" ] ||
			die "SMTP_USERNAME is set but the secret smtp_password is not mounted"
		printf '%ssmtp_auth_username: %s\n' "$1" "'$SMTP_USERNAME'"
		printf '%ssmtp_auth_password_file: /run/secrets/smtp_password\n' "$1"
	fi
}

# notify INDENT SEVERITY: the integrations of a receiver. Critical alerts
# also mail when they resolve; warnings mail only while they fire (the
# webhook hears both).
notify() {
	if [ -n "$webhook" ]; then
		printf '%swebhook_configs:\n' "$1"
		printf '%s  - url_file: %s\n' "$1" "$url_file"
		printf '%s    send_resolved: true\n' "$1"
	fi
	if [ -n "$email_to" ]; then
		resolved=false
		[ "$2" = critical ] && resolved=true
		printf '%semail_configs:\n' "$1"
		printf '%s  - to: %s\n' "$1" "'$email_to'"
		printf '%s    send_resolved: %s\n' "$1" "$resolved"
		printf '%s    headers:\n' "$1"
		printf "%s      Subject: '{{ template \"bazaar.email.subject\" . }}'\n" "$1"
		printf "%s    text: '{{ template \"bazaar.email.text\" . }}'\n" "$1"
	fi
}

[ -r "$dir/alertmanager.yml" ] || die "$dir/alertmanager.yml is missing"
umask 077
while IFS= read -r line || [ -n "$line" ]; do
	indent=${line%%[! ]*}
	case $line in
	*'# @smtp') smtp "$indent" ;;
	*'# @notify critical') notify "$indent" critical ;;
	*'# @notify warning') notify "$indent" warning ;;
	*) printf '%s\n' "$line" ;;
	esac
done <"$dir/alertmanager.yml" >"$out"
if [ -n "$webhook" ]; then
	printf '%s' "$webhook" >"$url_file"
fi

if [ -n "${ALERTMANAGER_RENDER_ONLY:-}" ]; then
	exit 0
fi
by_webhook=no by_email=no
[ -z "$webhook" ] || by_webhook=yes
[ -z "$email_to" ] || by_email=yes
echo "alertmanager: notifications by webhook: $by_webhook, by e-mail: $by_email" >&2
exec /bin/alertmanager --config.file="$out" "$@"
