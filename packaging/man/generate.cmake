# One manual page, generated at build time from a built binary (see
# CMakeLists.txt here), so that it cannot drift from the program:
#   -DPROGRAM=.../dnsd -DOUTPUT=dnsd.8 -DHELP2MAN=... -DINCLUDE=dnsd.h2m
#       help2man from PROGRAM's --help and --version: the NAME line is the
#       first line of --help ("dnsd: what it is"), the footer the package and
#       release from --version ("dnsd (signpost) 0.1.0 (git ...)"); INCLUDE
#       adds FILES and SEE ALSO
#   -DPROGRAM=.../dnsd -DOUTPUT=dnsd.toml.5 -DREFERENCE=ON
#       `dnsd --print-config-reference=man`: the config schema as a page
if(REFERENCE)
  execute_process(COMMAND ${PROGRAM} --print-config-reference=man OUTPUT_FILE ${OUTPUT}.tmp
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${PROGRAM} --print-config-reference=man failed: ${rc}")
  endif()
else()
  get_filename_component(name ${PROGRAM} NAME)
  execute_process(COMMAND ${PROGRAM} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT help MATCHES "^${name}: ([^\n]+)")
    message(FATAL_ERROR "${PROGRAM} --help does not start with '${name}: what it is': ${rc}")
  endif()
  set(what ${CMAKE_MATCH_1})
  execute_process(COMMAND ${PROGRAM} --version OUTPUT_VARIABLE version RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT version MATCHES "^${name} \\(([^)]+)\\) ([^ \n]+)")
    message(FATAL_ERROR "${PROGRAM} --version is not '${name} (package) release': ${rc}")
  endif()
  # The source without the commit, which would crowd the page's footer.
  set(source "${CMAKE_MATCH_1} ${CMAKE_MATCH_2}")
  execute_process(COMMAND ${HELP2MAN} --no-info --section=8 --name=${what} --source=${source}
                          --include=${INCLUDE} --output=${OUTPUT}.tmp ${PROGRAM}
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "help2man ${PROGRAM} failed: ${rc}")
  endif()
endif()
file(RENAME ${OUTPUT}.tmp ${OUTPUT})
