#!/usr/bin/env bash
# Install the real peers the tests talk to (Debian packages), when running as root.
# Without root or apt-get, say what is missing: the tests that need it are skipped,
# each with its reason in pytest's summary (-ra).
set -u
packages=(postfix postfix-pcre swaks libnet-ssleay-perl dovecot-core dovecot-lmtpd
          dovecot-imapd pflogsumm)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "install-peers: not root (or no apt-get): missing ${missing[*]};" \
         "the tests that need them will be skipped" >&2
    exit 0
fi
echo "install-peers: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/pfx-apt.log 2>&1; then
    apt-get update -qq >>/tmp/pfx-apt.log 2>&1
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >>/tmp/pfx-apt.log 2>&1 || {
        echo "install-peers: apt-get failed (see /tmp/pfx-apt.log);" \
             "the tests that need ${missing[*]} will be skipped" >&2
        tail -5 /tmp/pfx-apt.log >&2
    }
fi
exit 0
