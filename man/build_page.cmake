# cmake -DSCDOC=scdoc -DGZIP=gzip -DOUTPUT=page.N -DPARTS="a.scd|@keys|b.scd" [-DKEYS_COMMAND=omnicache] -P build_page.cmake
# Joins the parts ("@keys" is the output of `omnicache config template --format scdoc`) and runs scdoc on them,
# then writes page.N.gz beside page.N: the compressed page is what gets installed, as Debian's policy asks.
# The page is written only when scdoc succeeds, so that a failed build leaves no page behind.
string(REPLACE "|" ";" parts "${PARTS}")
set(source "")
foreach(part IN LISTS parts)
  if(part STREQUAL "@keys")
    # The template reads no config file and no environment: the builder's settings cannot leak into it.
    execute_process(
      COMMAND ${KEYS_COMMAND} config template --format scdoc
      OUTPUT_VARIABLE text
      RESULT_VARIABLE status
    )
    if(NOT status EQUAL 0)
      message(FATAL_ERROR "${KEYS_COMMAND} config template --format scdoc failed (${status})")
    endif()
  else()
    file(READ ${part} text)
  endif()
  string(APPEND source "${text}\n")
endforeach()

get_filename_component(out_dir ${OUTPUT} DIRECTORY)
file(MAKE_DIRECTORY ${out_dir})
file(WRITE ${OUTPUT}.scd "${source}")
execute_process(
  COMMAND ${SCDOC}
  INPUT_FILE ${OUTPUT}.scd
  OUTPUT_FILE ${OUTPUT}.tmp
  RESULT_VARIABLE status
)
file(REMOVE ${OUTPUT}.scd)
if(NOT status EQUAL 0)
  file(REMOVE ${OUTPUT}.tmp)
  message(FATAL_ERROR "scdoc failed on ${PARTS}")
endif()
file(RENAME ${OUTPUT}.tmp ${OUTPUT})
# -n leaves the name and time out of the header, so the same page always compresses to the same bytes.
execute_process(
  COMMAND ${GZIP} -9 -n -c ${OUTPUT}
  OUTPUT_FILE ${OUTPUT}.gz.tmp
  RESULT_VARIABLE status
)
if(NOT status EQUAL 0)
  file(REMOVE ${OUTPUT} ${OUTPUT}.gz.tmp)
  message(FATAL_ERROR "gzip failed on ${OUTPUT}")
endif()
file(RENAME ${OUTPUT}.gz.tmp ${OUTPUT}.gz)
