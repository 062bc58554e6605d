#!/usr/bin/env bash
# The catalogue check (.ci/run, issue 17): the committed catalogues hold every string of the code.
# In a throw-away copy of the project (the checkout is never touched) `manage.py makemessages`
# regenerates locale/<lang>/LC_MESSAGES/django.po for da, nb and fi from the code and templates;
# `msgfmt --statistics -c` must then count 0 untranslated and 0 fuzzy messages in each (a string
# the code has and the catalogue lacks comes out untranslated, a changed one fuzzy) and find the
# formats valid. Lists the msgids that are missing or fuzzy. Also fails when git tracks a .mo
# file (they are compiled by every set-up, scripts/messages.sh, never committed).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
languages=(da nb fi)

scripts/bootstrap.sh || exit 1
scripts/messages.sh --gettext-only || exit 1

status=0
tracked=$(git ls-files -- '*.mo')
if [ -n "$tracked" ]; then
    echo "Compiled catalogues are committed (they are made by the set-up, scripts/messages.sh): git rm --cached them:"
    echo "$tracked" | sed 's/^/  /'
    status=1
fi

# The copy: tracked files and new ones not ignored, as they are in the working tree.
copy=$(mktemp -d /tmp/crm-catalogues.XXXXXX)
trap 'rm -rf "$copy"' EXIT
git ls-files -z --cached --others --exclude-standard \
    | (cd "$root" && xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _) \
    | tar -c --null -T - -f - | tar -x -C "$copy" -f - || exit 1

args=()
for language in "${languages[@]}"; do args+=(-l "$language"); done
(cd "$copy" && DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY:-makemessages-only}" \
    "$root/.venv/bin/python" manage.py makemessages "${args[@]}" --ignore=.venv --ignore=tests -v 0) || exit 1

for language in "${languages[@]}"; do
    po="$copy/locale/$language/LC_MESSAGES/django.po"
    # msgfmt's statistics go to stderr: "N translated messages, N fuzzy translations, N untranslated messages."
    if ! statistics=$(LC_ALL=C msgfmt --statistics -c -o /dev/null "$po" 2>&1); then
        echo "$language: msgfmt -c finds errors:"
        echo "$statistics" | sed "s|$copy/||; s/^/  /"
        status=1
        continue
    fi
    # The last line is the count; header warnings (a default left in the header) do not fail.
    echo "$language: $(echo "$statistics" | tail -n 1)"
    echo "$statistics" | sed '$d' | sed "s|$copy/||; s/^/  /"
    statistics=$(echo "$statistics" | tail -n 1)
    if [[ "$statistics" == *untranslated* ]]; then
        echo "  missing from locale/$language/LC_MESSAGES/django.po (makemessages, then translate):"
        msgattrib --untranslated --no-obsolete --no-wrap "$po" | grep -E '^msgid(_plural)? "' | grep -v '^msgid ""$' \
            | sed 's/^/    /'
        status=1
    fi
    if [[ "$statistics" == *fuzzy* ]]; then
        echo "  fuzzy in locale/$language/LC_MESSAGES/django.po (check the translation, remove the fuzzy flag):"
        msgattrib --only-fuzzy --no-obsolete --no-wrap "$po" | grep -E '^msgid(_plural)? "' | grep -v '^msgid ""$' \
            | sed 's/^/    /'
        status=1
    fi
done

if [ $status -ne 0 ]; then
    echo "FAILED: the catalogues do not match the code (see above)." >&2
else
    echo "The catalogues hold every string of the code, translated, for ${languages[*]}."
fi
exit $status
