#!/usr/bin/env bash
# Asks an OpenAI-style chat completions API with curl, and keeps each answer in
# omnicache's response layer: the same model, messages and parameters are
# answered from the cache, with no call and no cost. Copy it and adapt it.
#
#   openai-curl.sh "What is 2+2?"
#   openai-curl.sh -f contract.txt "Summarize this document."
set -euo pipefail

prog=${0##*/}

usage() {
  cat <<EOF
Usage: $prog [OPTIONS] PROMPT
       $prog [OPTIONS] -f FILE [PROMPT]

Asks an OpenAI-style chat completions API (POST \$OPENAI_BASE_URL/chat/completions)
and prints the answer. Answers are cached by omnicache under a key made of the
model, the messages and the parameters; a repeated question costs nothing.

Options:
  -m, --model MODEL        Model (default: \$OMNICACHE_EXAMPLE_MODEL or gpt-4o-mini)
  -f, --file FILE          A document to ask about: its text follows PROMPT in the
                           message (PROMPT defaults to "Summarize this document.").
                           The answer depends on file:ABSOLUTE_PATH at the file's
                           SHA-256, so 'omnicache invalidate --dep file:ABSOLUTE_PATH'
                           makes it stale, and a changed file removes older answers
  -s, --system TEXT        A system message before the prompt
  -t, --temperature T      Sampling temperature (default: 0)
      --max-tokens N       Longest answer, in tokens
      --ttl DURATION       How long the answer stays cached (default: 7d)
      --tag TAG            Tag the cached answer (repeat for several)
      --refresh            Ask the API even when the answer is cached, and store it again
      --status             Print HIT or MISS and the cache key on standard error
      --json               Print the whole JSON response instead of the answer text
  -h, --help               Print this help and exit

Environment:
  OPENAI_BASE_URL          The API's base URL (default: https://api.openai.com/v1)
  OPENAI_API_KEY           Sent as a bearer token (required for api.openai.com)
  OMNICACHE_EXAMPLE_MODEL  The default model
  OMNICACHE                The omnicache command (default: omnicache from PATH)
  OMNICACHE_SOCKET, OMNICACHE_TENANT
                           Which daemon and tenant omnicache uses
  OMNICACHE_DISABLE=1      Ask the API without looking at the cache

Exit status: 0 on an answer, 1 when the API or the network failed, 2 on bad usage.
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
file=''
system=''
temperature=0
max_tokens=''
ttl=7d
tags=()
refresh=0
status=0
print_json=0
prompt=''
operands=()

while [[ $# -gt 0 ]]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    -m | --model) need_value "$@"; model=$2; shift 2 ;;
    -f | --file) need_value "$@"; file=$2; shift 2 ;;
    -s | --system) need_value "$@"; system=$2; shift 2 ;;
    -t | --temperature) need_value "$@"; temperature=$2; shift 2 ;;
    --max-tokens) need_value "$@"; max_tokens=$2; shift 2 ;;
    --ttl) need_value "$@"; ttl=$2; shift 2 ;;
    --tag) need_value "$@"; tags+=(--tag "$2"); shift 2 ;;
    --refresh) refresh=1; shift ;;
    --status) status=1; shift ;;
    --json) print_json=1; shift ;;
    --) shift; operands+=("$@"); break ;;
    -?*) usage_error "unknown option $1" ;;
    *) operands+=("$1"); shift ;;
  esac
done
set -- "${operands[@]}"
[[ $# -le 1 ]] || usage_error "give the prompt as one argument (quote it)"
prompt=${1:-}
if [[ -n $file && -z $prompt ]]; then
  prompt='Summarize this document.'
fi
[[ -n $prompt ]] || usage_error "no prompt given"
[[ -n $model ]] || usage_error "no model given"
[[ $temperature =~ ^[0-9]+([.][0-9]+)?$ ]] || usage_error "--temperature wants a number, not '$temperature'"
[[ -z $max_tokens || $max_tokens =~ ^[1-9][0-9]*$ ]] || usage_error "--max-tokens wants a positive number"

omnicache=${OMNICACHE:-omnicache}
for tool in curl jq "$omnicache"; do
  command -v "$tool" >/dev/null || die "$tool is not installed (or not on PATH)"
done

base_url=${OPENAI_BASE_URL:-https://api.openai.com/v1}
base_url=${base_url%/}
if [[ -z ${OPENAI_API_KEY:-} && $base_url == https://api.openai.com* ]]; then
  die "set OPENAI_API_KEY (or OPENAI_BASE_URL for another server)"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/openai-curl.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

# The document's dependency: named after its absolute path, versioned by its
# content, as `omnicache run --file` records it, so either invalidates both.
dep=''
if [[ -n $file ]]; then
  [[ -f $file && -r $file ]] || die "cannot read $file"
  dep="file:$(realpath -s -- "$file")"
  doc_hash=$(sha256sum <"$file" | cut -c1-64)
fi

# The request body. The cache key comes from the same body: its messages, and
# every other member but the model as a parameter, which is also how
# omnicache's HTTP proxy keys it, so the two share their answers.
jq -n --arg model "$model" --arg system "$system" --arg prompt "$prompt" \
  --rawfile doc "${file:-/dev/null}" --argjson temperature "$temperature" --arg max_tokens "$max_tokens" '
  {model: $model,
   messages: ((if $system == "" then [] else [{role: "system", content: $system}] end)
              + [{role: "user", content: (if $doc == "" then $prompt else $prompt + "\n\n" + $doc end)}]),
   temperature: $temperature}
  + (if $max_tokens == "" then {} else {max_tokens: ($max_tokens | tonumber)} end)' >"$work/request.json"
mapfile -t params < <(jq -r 'del(.model, .messages) | to_entries[] | "--param", "\(.key)=\(.value | tojson)"' \
  "$work/request.json")
lookup=(--model "$model" --messages "$work/request.json" "${params[@]}")

print_answer() {
  if ((print_json)); then
    cat -- "$1"
  else
    jq -j '.choices[0].message.content, "\n"' "$1"
  fi
}

# Looking up: 0 is a hit, 1 a miss; anything else (no daemon, a bad key)
# leaves the cache out of this call rather than failing it.
use_cache=1
if [[ ${OMNICACHE_DISABLE:-} == 1 ]]; then
  use_cache=0
elif ((!refresh)); then
  status_flag=()
  if ((status)); then
    status_flag=(--status)
  fi
  code=0
  "$omnicache" response get "${lookup[@]}" "${status_flag[@]}" >"$work/answer.json" || code=$?
  if ((code == 0)); then
    print_answer "$work/answer.json"
    exit 0
  elif ((code != 1)); then
    printf '%s: omnicache failed (exit %d); asking without the cache\n' "$prog" "$code" >&2
    use_cache=0
  fi
fi

auth=()
if [[ -n ${OPENAI_API_KEY:-} ]]; then
  # From a file only this user can read, so the key never shows in the process list.
  printf 'Authorization: Bearer %s\n' "$OPENAI_API_KEY" >"$work/headers"
  auth=(-H "@$work/headers")
fi
http_code=$(curl -sS --connect-timeout 10 --max-time 600 -o "$work/answer.json" -w '%{http_code}' \
  -H 'Content-Type: application/json' "${auth[@]}" --data-binary @"$work/request.json" \
  "$base_url/chat/completions") || die "the request to $base_url failed"
if [[ $http_code != 2?? ]]; then
  message=$(jq -r '.error.message // empty' "$work/answer.json" 2>/dev/null || true)
  die "$base_url answered HTTP $http_code${message:+: $message}"
fi
jq -e '.choices[0].message.content | strings' "$work/answer.json" >/dev/null 2>&1 \
  || die "$base_url answered something that is not a chat completion"

if ((use_cache)); then
  deps=()
  if [[ -n $dep ]]; then
    # A new version of the document removes the answers about the old one.
    "$omnicache" invalidate --dep "$dep" --new-hash "$doc_hash" >/dev/null \
      || printf '%s: could not record the new version of %s\n' "$prog" "$file" >&2
    deps=(--dep "$dep")
  fi
  # The whole JSON response is stored: its usage counts the tokens a hit saves.
  "$omnicache" response set "${lookup[@]}" --ttl "$ttl" "${tags[@]}" "${deps[@]}" <"$work/answer.json" >/dev/null \
    || printf '%s: the answer could not be cached\n' "$prog" >&2
fi
print_answer "$work/answer.json"
