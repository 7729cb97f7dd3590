#!/usr/bin/env bash
# Asks a local Ollama server (POST /api/chat, stream:false) with curl, and
# keeps each answer in omnicache's response layer. The answers depend on the
# model's digest: after `ollama pull` brings a new version of the model, its
# old answers are removed on the next call. Copy it and adapt it.
#
#   ollama.sh "Why is the sky blue?"
#   ollama.sh -m qwen2.5:7b -f notes.md "List the action items."
set -euo pipefail

prog=${0##*/}

usage() {
  cat <<EOF
Usage: $prog [OPTIONS] PROMPT
       $prog [OPTIONS] -f FILE [PROMPT]

Asks an Ollama server (POST \$OLLAMA_HOST/api/chat, not streamed) and prints the
answer. Answers are cached by omnicache under a key made of the model, the messages
and the options, tagged model:MODEL, and depend on ollama:MODEL at the digest the
server reports for the model (GET /api/tags): when the model is pulled again, its
older answers are removed. 'omnicache invalidate --model MODEL' removes them by hand.

Options:
  -m, --model MODEL        Model (default: \$OMNICACHE_EXAMPLE_MODEL or llama3.2)
  -f, --file FILE          A document to ask about: its text follows PROMPT in the
                           message (PROMPT defaults to "Summarize this document.").
                           The answer depends on file:ABSOLUTE_PATH at the file's
                           SHA-256, so 'omnicache invalidate --dep file:ABSOLUTE_PATH'
                           makes it stale, and a changed file removes older answers
  -s, --system TEXT        A system message before the prompt
  -t, --temperature T      Sampling temperature (default: 0)
      --seed N             Sampling seed
      --ttl DURATION       How long the answer stays cached (default: 7d)
      --tag TAG            Tag the cached answer (repeat for several)
      --refresh            Ask the server even when the answer is cached, and store it again
      --status             Print HIT or MISS and the cache key on standard error
      --json               Print the whole JSON response instead of the answer text
  -h, --help               Print this help and exit

Environment:
  OLLAMA_HOST              The server (default: http://localhost:11434)
  OMNICACHE_EXAMPLE_MODEL  The default model
  OMNICACHE                The omnicache command (default: omnicache from PATH)
  OMNICACHE_SOCKET, OMNICACHE_TENANT
                           Which daemon and tenant omnicache uses
  OMNICACHE_DISABLE=1      Ask the server without looking at the cache

Exit status: 0 on an answer, 1 when the server or the network failed, 2 on bad usage.
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

warn() {
  printf '%s: %s\n' "$prog" "$1" >&2
}

model=${OMNICACHE_EXAMPLE_MODEL:-llama3.2}
file=''
system=''
temperature=0
seed=''
ttl=7d
tags=()
refresh=0
status=0
print_json=0
operands=()

while [[ $# -gt 0 ]]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    -m | --model) need_value "$@"; model=$2; shift 2 ;;
    -f | --file) need_value "$@"; file=$2; shift 2 ;;
    -s | --system) need_value "$@"; system=$2; shift 2 ;;
    -t | --temperature) need_value "$@"; temperature=$2; shift 2 ;;
    --seed) need_value "$@"; seed=$2; shift 2 ;;
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
[[ -z $seed || $seed =~ ^-?[0-9]+$ ]] || usage_error "--seed wants a whole number"

omnicache=${OMNICACHE:-omnicache}
for tool in curl jq "$omnicache"; do
  command -v "$tool" >/dev/null || die "$tool is not installed (or not on PATH)"
done

# Ollama's own client takes OLLAMA_HOST with or without a scheme.
host=${OLLAMA_HOST:-http://localhost:11434}
[[ $host == *://* ]] || host="http://$host"
host=${host%/}

work=$(mktemp -d "${TMPDIR:-/tmp}/ollama.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

ollama_call() { # PATH [BODY_FILE]: the server's answer in $work/reply.json
  local path=$1 data=()
  [[ $# -lt 2 ]] || data=(-H 'Content-Type: application/json' --data-binary "@$2")
  local http_code
  http_code=$(curl -sS --connect-timeout 10 --max-time 900 -o "$work/reply.json" -w '%{http_code}' "${data[@]}" \
    "$host$path") || die "cannot reach Ollama at $host (is 'ollama serve' running?)"
  if [[ $http_code != 2?? ]]; then
    local message
    message=$(jq -r '.error // empty' "$work/reply.json" 2>/dev/null || true)
    die "$host$path answered HTTP $http_code${message:+: $message}"
  fi
}

# The model as the server lists it (llama3.2 is llama3.2:latest) and its digest,
# which changes when `ollama pull` brings a new version.
ollama_call /api/tags
read -r pulled digest < <(jq -r --arg m "$model" '
  [.models[]? | select(.name == $m or .name == $m + ":latest" or .model == $m or .model == $m + ":latest")][0]
  | select(. != null) | "\(.name) \(.digest)"' "$work/reply.json") || true
[[ -n ${digest:-} ]] || die "$model is not on $host: run 'ollama pull $model' first"

dep_file=''
if [[ -n $file ]]; then
  [[ -f $file && -r $file ]] || die "cannot read $file"
  dep_file="file:$(realpath -s -- "$file")"
  doc_hash=$(sha256sum <"$file" | cut -c1-64)
fi

jq -n --arg model "$model" --arg system "$system" --arg prompt "$prompt" \
  --rawfile doc "${file:-/dev/null}" --argjson temperature "$temperature" --arg seed "$seed" '
  {model: $model,
   messages: ((if $system == "" then [] else [{role: "system", content: $system}] end)
              + [{role: "user", content: (if $doc == "" then $prompt else $prompt + "\n\n" + $doc end)}]),
   stream: false,
   options: ({temperature: $temperature} + (if $seed == "" then {} else {seed: ($seed | tonumber)} end))}' \
  >"$work/request.json"
# The key: model, messages and the options (stream is never part of a key).
lookup=(--model "$model" --messages "$work/request.json" --param "options=$(jq -c .options "$work/request.json")")

print_answer() {
  if ((print_json)); then
    cat -- "$1"
  else
    jq -j '.message.content, "\n"' "$1"
  fi
}

use_cache=1
if [[ ${OMNICACHE_DISABLE:-} == 1 ]]; then
  use_cache=0
else
  # Removes the answers of an older digest of the model, once: the same digest
  # given again removes nothing.
  if ! "$omnicache" invalidate --dep "ollama:$pulled" --new-hash "$digest" >/dev/null; then
    warn "omnicache failed; asking without the cache"
    use_cache=0
  fi
fi
if ((use_cache && !refresh)); then
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
    warn "omnicache failed (exit $code); asking without the cache"
    use_cache=0
  fi
fi

ollama_call /api/chat "$work/request.json"
mv -- "$work/reply.json" "$work/answer.json"
jq -e '.message.content | strings' "$work/answer.json" >/dev/null 2>&1 \
  || die "$host answered something that is not a chat response"

if ((use_cache)); then
  deps=(--dep "ollama:$pulled")
  if [[ -n $dep_file ]]; then
    "$omnicache" invalidate --dep "$dep_file" --new-hash "$doc_hash" >/dev/null \
      || warn "could not record the new version of $file"
    deps+=(--dep "$dep_file")
  fi
  # Ollama counts tokens in its own fields; passed on, stats show what hits save.
  tokens=()
  IFS=, read -r prompt_tokens completion_tokens < <(jq -r '"\(.prompt_eval_count // ""),\(.eval_count // "")"' \
    "$work/answer.json") || true
  [[ -z ${prompt_tokens:-} ]] || tokens+=(--prompt-tokens "$prompt_tokens")
  [[ -z ${completion_tokens:-} ]] || tokens+=(--completion-tokens "$completion_tokens")
  "$omnicache" response set "${lookup[@]}" --ttl "$ttl" "${tags[@]}" "${deps[@]}" "${tokens[@]}" \
    <"$work/answer.json" >/dev/null || warn "the answer could not be cached"
fi
print_answer "$work/answer.json"
