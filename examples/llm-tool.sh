#!/usr/bin/env bash
# Runs Simon Willison's `llm` command once per line of a file, each call
# cached by `omnicache run`: lines asked before are answered from the cache,
# so a batch that stopped halfway, or grew by a few lines, only pays for what
# is new. Copy it and adapt it.
#
#   llm-tool.sh "Translate into French: {}" phrases.txt
#   llm-tool.sh -c contract.txt "Where does this contract mention {}?" topics.txt
set -euo pipefail

prog=${0##*/}

usage() {
  cat <<EOF
Usage: $prog [OPTIONS] PROMPT [INPUT]

Runs 'llm -m MODEL PROMPT' once for each non-empty line of INPUT (a file; standard
input when INPUT is - or not given), with {} in PROMPT replaced by the line (the line
follows PROMPT after a space when PROMPT has no {}). Prints each answer in turn.
Each call goes through 'omnicache run', keyed on its arguments and its standard input.

Options:
  -m, --model MODEL        Model (default: \$OMNICACHE_EXAMPLE_MODEL or gpt-4o-mini)
  -s, --system TEXT        A system prompt (llm -s)
  -c, --context FILE       A document given to every call on its standard input. The
                           answers depend on file:ABSOLUTE_PATH, so
                           'omnicache invalidate --dep file:ABSOLUTE_PATH' makes them stale
      --ttl DURATION       How long answers stay cached (default: 7d)
      --tag TAG            Tag the answers (repeat; they are always tagged llm-tool and
                           model:MODEL, so 'omnicache invalidate --model MODEL' finds them)
      --dep NAME[=VERSION] Record a dependency of the answers (repeat for several)
      --refresh            Call llm even for cached lines, and store the answers again
      --status             Print HIT or MISS and the cache key of each line on standard error
  -h, --help               Print this help and exit

Environment:
  LLM                      The llm command (default: llm from PATH)
  OMNICACHE_EXAMPLE_MODEL  The default model
  OMNICACHE                The omnicache command (default: omnicache from PATH)
  OMNICACHE_SOCKET, OMNICACHE_TENANT
                           Which daemon and tenant omnicache uses
  OMNICACHE_DISABLE=1      Call llm without looking at the cache

Exit status: 0 when every line was answered, 1 when some failed (the others are
still printed and cached), 2 on bad usage.
EOF
}

die() {
  printf '%s: %s\n' "$prog" "$1" >&2
  exit "${2:-1}"
}

usage_error() {
  printf '%s: %s\n' "$prog" "$1" >&2
  printf "Try '%s --help'.\n" "$prog" >&2
  exit 2
}

need_value() {
  [[ $# -ge 2 ]] || usage_error "$1 needs a value"
}

model=${OMNICACHE_EXAMPLE_MODEL:-gpt-4o-mini}
system=''
context=''
ttl=7d
run_options=()
tags=(--tag llm-tool)
operands=()

while [[ $# -gt 0 ]]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    -m | --model) need_value "$@"; model=$2; shift 2 ;;
    -s | --system) need_value "$@"; system=$2; shift 2 ;;
    -c | --context) need_value "$@"; context=$2; shift 2 ;;
    --ttl) need_value "$@"; ttl=$2; shift 2 ;;
    --tag) need_value "$@"; tags+=(--tag "$2"); shift 2 ;;
    --dep) need_value "$@"; run_options+=(--dep "$2"); shift 2 ;;
    --refresh) run_options+=(--refresh); shift ;;
    --status) run_options+=(--status); shift ;;
    --) shift; operands+=("$@"); break ;;
    -?*) usage_error "unknown option $1" ;;
    *) operands+=("$1"); shift ;;
  esac
done
set -- "${operands[@]}"
[[ $# -ge 1 ]] || usage_error "no prompt given"
[[ $# -le 2 ]] || usage_error "too many arguments: give PROMPT and INPUT, and quote the prompt"
prompt=$1
input=${2:--}
[[ $input != - ]] || input=/dev/stdin
[[ -n $prompt ]] || usage_error "the prompt is empty"
[[ -n $model ]] || usage_error "no model given"
tags+=(--tag "model:$model")
run_options+=(--ttl "$ttl")

llm=${LLM:-llm}
omnicache=${OMNICACHE:-omnicache}
for tool in "$llm" "$omnicache"; do
  command -v "$tool" >/dev/null || die "$tool is not installed (or not on PATH)"
done
[[ -r $input && ! -d $input ]] || die "cannot read $input"
# The calls read the context document, or nothing: never the lines, which
# would otherwise change the key of every call after the first.
call_stdin=/dev/null
if [[ -n $context ]]; then
  [[ -f $context && -r $context ]] || die "cannot read $context"
  # --file keys on the content and records file:ABSOLUTE_PATH at its SHA-256.
  run_options+=(--file "$context")
  call_stdin=$context
fi

llm_options=(-m "$model")
if [[ -n $system ]]; then
  llm_options+=(-s "$system")
fi

failed=0
number=0
while IFS= read -r line <&3 || [[ -n $line ]]; do
  number=$((number + 1))
  [[ -n ${line//[[:space:]]/} ]] || continue
  if [[ $prompt == *'{}'* ]]; then
    text=${prompt//'{}'/"$line"}
  else
    text="$prompt $line"
  fi
  # A failed call passes its status on and is not stored: the next run tries it again.
  if ! "$omnicache" run "${run_options[@]}" "${tags[@]}" -- "$llm" "${llm_options[@]}" "$text" <"$call_stdin"; then
    printf '%s: line %d failed: %s\n' "$prog" "$number" "$line" >&2
    failed=$((failed + 1))
  fi
done 3<"$input"

if ((failed)); then
  die "$failed line(s) failed"
fi
