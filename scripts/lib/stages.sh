# Sourced by the check scripts: times each step of a stage and prints the
# stages' times at the end, so the cost of every change shows in every run.
#
# Each step appends "STAGE<TAB>STEP<TAB>SECONDS<TAB>STATUS" to the file named by
# OMNICACHE_STAGE_LOG. The outermost script (the first to find the variable
# unset) starts the file and prints the summary when it exits; scripts it runs
# only append. .ci/run sets the variable itself so that its summary covers the
# README's test command and the sanitizer stages together.

if [[ -z ${OMNICACHE_STAGE_LOG:-} ]]; then
  export OMNICACHE_STAGE_LOG=$PWD/build/stage-times.tsv
  mkdir -p "$(dirname "$OMNICACHE_STAGE_LOG")"
  : >"$OMNICACHE_STAGE_LOG"
  trap stages_report EXIT
fi

# timed STAGE STEP COMMAND [ARG...]: runs COMMAND and records its wall time
# and exit status under STAGE/STEP; returns COMMAND's status.
timed() {
  local stage=$1 step=$2 start=$SECONDS status=0
  shift 2
  "$@" || status=$?
  printf '%s\t%s\t%d\t%d\n' "$stage" "$step" $((SECONDS - start)) "$status" >>"$OMNICACHE_STAGE_LOG"
  return "$status"
}

# Prints one line per stage, in the order they ran, and the total:
#   stage release: build 312 s, tests 141 s
#   stage asan: build 402 s, tests 388 s (tests FAILED)
#   total: 1243 s
stages_report() {
  [[ -s $OMNICACHE_STAGE_LOG ]] || return 0
  echo
  awk -F'\t' '
    !($1 in seen) { seen[$1] = 1; order[++n] = $1 }
    { line[$1] = line[$1] (line[$1] == "" ? "" : ", ") $2 " " $3 " s"; total += $3
      if ($4 != 0) failed[$1] = failed[$1] (failed[$1] == "" ? "" : ", ") $2 }
    END {
      for (i = 1; i <= n; i++) {
        s = order[i]
        printf "stage %s: %s%s\n", s, line[s], (s in failed) ? " (" failed[s] " FAILED)" : ""
      }
      printf "total: %d s\n", total
    }' "$OMNICACHE_STAGE_LOG"
}
