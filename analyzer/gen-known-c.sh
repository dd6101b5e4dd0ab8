#!/bin/sh
# Turn the known/ table (TSV) into a C file embedding its text. An absent
# table gives an empty one.
set -eu
echo '/* Generated from offsets/known/known.tsv by analyzer/gen-known-c.sh. */'
echo '#include <stddef.h>'
echo 'const char weft_known_tsv[] ='
if [ -r "$1" ]; then
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t"/' -e 's/$/\\n"/' "$1"
fi
echo '	"";'
echo 'const size_t weft_known_tsv_len = sizeof(weft_known_tsv) - 1;'
