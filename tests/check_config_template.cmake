# Fails when docs/config.toml differs from what `omnicache config template`
# prints, so that the documented configuration never drifts from the code.
execute_process(COMMAND ${CLI} config template OUTPUT_VARIABLE generated RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "omnicache config template failed with ${rc}")
endif()
file(READ ${EXPECTED} committed)
if(NOT generated STREQUAL committed)
  message(FATAL_ERROR "docs/config.toml is out of date; regenerate it with:\n"
                      "  build/release/bin/omnicache config template > docs/config.toml")
endif()
