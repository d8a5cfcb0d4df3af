#!/bin/sh
# checksrc.sh — the machine half of STYLE.md R14 (issue 12).  Fails (exit 1)
# on:
#   banned   calls with a safer house replacement (R8, R11), in C code
#            outside comments and string literals;
#   layer    an #include "dir/x.h" in src/ that points up the ranks
#              lib 0 < core 1 < store 2 < bulk 3 < jobs 4 < http 5
#              < api 6 < cli 7 = tools 7 < main.c 8
#            (unknown dirs and "../" includes fail too);
#   edit     .editorconfig breaches: CR line ends, trailing whitespace,
#            missing final newline, and in C files indentation that is
#            not tabs (KNF's 4-space continuation after the tabs is fine);
#   comment  // comments in C (the tree uses block comments only).
#
#   scripts/checksrc.sh [ROOT]      check ROOT (default: this checkout)
#   scripts/checksrc.sh --selftest  plant one breach of each kind in a
#                                   temp copy and expect each to fail
#
# An exception is written where it happens, on the offending line:
#   /* checksrc: allow malloc — why */
# Layer ranks: lib 0, core 1, store 2, bulk 3, auth 3.5, openimis 3.7,
# openhim 3.7, jobs 4, http 5,
# api 6, cli and tools 7, main.c 8; an include may only point to the same
# rank or lower.
set -eu

# No upward include is tolerated: the list stays empty, "file -> include"
# per line, for a step that must land in two commits.
LAYER_KNOWN=''

BANNED_ALL='strcpy strcat sprintf vsprintf gets atoi atol atoll strtok
strncpy sscanf tmpnam tempnam mktemp system popen asctime ctime gmtime
localtime alloca'
# Only in src/: tests may seed rand() and call malloc on purpose.
BANNED_SRC='rand srand malloc calloc realloc'
# Per-file exceptions, "file:name reason".  Keep short, give a reason.
ALLOW_FILES='
src/lib/xmalloc.c:malloc the wrapper itself
src/lib/xmalloc.c:calloc the wrapper itself
src/lib/xmalloc.c:realloc the wrapper itself
src/lib/log.c:malloc the async log ring is sized by config and may fail without fataling (log_async_start returns -1)
'

# Tracked files when ROOT is a git checkout, else everything but builds.
list_files()
{
	if git -C "$1" rev-parse --show-toplevel >/dev/null 2>&1 &&
	    [ "$(git -C "$1" rev-parse --show-toplevel)" = "$(cd "$1" && pwd -P)" ]; then
		git -C "$1" ls-files
	else
		(cd "$1" && find . -type f ! -path './.git/*' \
		    ! -path './build*' ! -path './var/*' | sed 's,^\./,,')
	fi
}

# One perl pass over every file (a process per file and check is far too
# slow on a loaded CI box).  perl-base is essential on Debian.
check_tree()
{
	root=$1
	list_files "$root" | (cd "$root" && BANNED_ALL=$BANNED_ALL \
	    BANNED_SRC=$BANNED_SRC ALLOW_FILES=$ALLOW_FILES \
	    LAYER_KNOWN=$LAYER_KNOWN perl -e '
use strict; use warnings;
my %rank = (lib => 0, core => 1, store => 2, bulk => 3, auth => 3.5,
    openimis => 3.7, openhim => 3.7, jobs => 4,
    http => 5, api => 6, cli => 7, tools => 7, "main.c" => 8);
my @all = split " ", $ENV{BANNED_ALL};
my @src = split " ", $ENV{BANNED_SRC};
my $ban_all = qr/(?<![\w.>])(@{[join "|", @all]})\s*\(/;
my $ban_src = qr/(?<![\w.>])(@{[join "|", @all, @src]})\s*\(/;
my %allow = map { /^(\S+:\S+) / ? ($1 => 1) : () } split /\n/, $ENV{ALLOW_FILES};
my %known = map { $_ => 1 } grep { /\S/ } split /\n/, $ENV{LAYER_KNOWN};
my ($fails, %seen) = (0);
sub bad { print "$_[0]\n"; $fails++ }
# Blank comments and literals, keeping line breaks.
sub strip {
	my $t = shift;
	$t =~ s{(/\*.*?\*/)|("(?:\\.|[^"\\\n])*")|(\x27(?:\\.|[^\x27\\\n])*\x27)}{
	    defined $1 ? "\n" x ($1 =~ tr/\n//) :
	    defined $2 ? "\"\"" : "\x27\x27"}gse;
	return $t;
}
while (my $f = <STDIN>) {
	chomp $f;
	next if $f =~ m{^tests/fuzz/corpus/} or ! -f $f;
	open(my $fh, "<", $f) or next;
	local $/; my $t = <$fh>; close $fh;
	next if $t eq "" or $t =~ /\0/;		# empty or binary
	bad("$f: edit: CR line ends") if $t =~ /\r/;
	bad("$f: edit: no final newline") unless $t =~ /\n\z/;
	my @l = split /\n/, $t, -1;
	if ($f !~ /\.md$/) {	# a trailing "  " is a markdown line break
		for my $i (0 .. $#l) {
			bad("$f:" . ($i + 1) . ": edit: trailing whitespace")
			    if $l[$i] =~ /[ \t]+$/;
		}
	}
	next unless $f =~ /\.[ch]$/;
	for my $i (0 .. $#l) {
		bad("$f:" . ($i + 1) . ": edit: indent with tabs")
		    if $l[$i] =~ /^\t* {8,}|^ +\t/;
	}
	my @s = split /\n/, strip($t), -1;
	my $ban = ($f =~ m{^src/}) ? $ban_src : $ban_all;
	for my $i (0 .. $#s) {
		my $n = $i + 1;
		bad("$f:$n: comment: // comment, use /* */") if $s[$i] =~ m{//};
		while ($s[$i] =~ /$ban/g) {
			my $b = $1;
			next if $allow{"$f:$b"} or $l[$i] =~ /checksrc: allow $b\b/;
			bad("$f:$n: banned: $b()");
		}
	}
	my $from = $f eq "src/main.c" ? "main.c" :
	    $f =~ m{^src/([^/]+)/} ? $1 : next;
	for my $i (0 .. $#l) {
		next unless $l[$i] =~ /^\s*#\s*include\s*"([^"]+)"/;
		my $inc = $1; my $n = $i + 1;
		next unless $inc =~ m{^([^/]+)/};
		my $to = $1;
		if (!defined $rank{$from} or !defined $rank{$to}) {
			bad("$f:$n: layer: unranked include \"$inc\""); next;
		}
		next if $rank{$to} <= $rank{$from};
		my $what = "upward include \"$inc\" ($from $rank{$from} -> $to $rank{$to})";
		if ($known{"$f -> $inc"}) {
			$seen{"$f -> $inc"} = 1;
			print "$f:$n: layer: known $what, tolerated\n"; next;
		}
		bad("$f:$n: layer: $what");
	}
}
for my $k (sort keys %known) {
	print "checksrc: note: \"$k\" is gone; drop it from LAYER_KNOWN\n"
	    if !$seen{$k} and -f (split / -> /, $k)[0];
}
if ($fails) { print "checksrc: $fails problem(s)\n"; exit 1 }
print "checksrc: ok\n";
')
}

# Plant each kind of breach in a fresh copy of src/; each must fail alone.
selftest()
{
	top=$1
	t=$(mktemp -d)
	trap 'rm -rf "$t"' EXIT
	bad=0
	plant()
	{
		rm -rf "$t/tree"; mkdir -p "$t/tree"
		cp -R "$top/src" "$t/tree/src"
		printf '%s\n' "$2" >>"$t/tree/$1"
		if out=$(check_tree "$t/tree" 2>&1); then
			echo "selftest: FAILED to catch $3"; bad=1
		else
			echo "selftest: caught $3:"
			echo "$out" | grep -v -e 'tolerated$' -e '^checksrc:' | sed 's/^/    /'
		fi
	}
	rm -rf "$t/tree"; mkdir -p "$t/tree"; cp -R "$top/src" "$t/tree/src"
	if ! check_tree "$t/tree" >/dev/null; then
		echo "selftest: the unplanted copy does not pass"; return 1
	fi
	plant src/bulk/search.c '#include "jobs/worker.h"' 'an upward include (bulk -> jobs)'
	plant src/lib/str.c '#include "core/cfg.h"' 'an upward include (lib -> core)'
	plant src/lib/str.c '#include "../core/cfg.h"' 'a ../ include'
	plant src/store/db.c 'static void f(char *d) { strcpy(d, "x"); }' 'a banned call'
	plant src/store/db.c 'int x; /* ok */ // not ok' 'a // comment'
	plant src/store/db.c 'int y;   ' 'trailing whitespace'
	plant src/store/db.c '        int z;' 'space indentation'
	# Not breaches: must still pass.
	rm -rf "$t/tree"; mkdir -p "$t/tree"; cp -R "$top/src" "$t/tree/src"
	printf '%s\n' '#include "store/db.h"' \
	    'static const char *u = "http://x/strcpy(";' \
	    '/* sprintf( in a comment */' >>"$t/tree/src/jobs/worker.c"
	if ! check_tree "$t/tree" >/dev/null; then
		echo "selftest: a false alarm on allowed code"; bad=1
	fi
	[ "$bad" = 0 ] && echo "selftest: ok"
	return "$bad"
}

top=$(cd "$(dirname "$0")/.." && pwd -P)
case "${1:-}" in
--selftest) selftest "$top" ;;
-h|--help) sed -n '2,22p' "$0" ;;
"") check_tree "$top" ;;
*) check_tree "$1" ;;
esac
