# Installs the build with the prefix /usr, staged in STAGE (DESTDIR, so that
# an absolute UNITDIR, as the Debian package's, lands there too and never in
# the machine's /lib), and checks the layout: binaries that run, their manual
# pages, the systemd units, the example configs and the documentation.
set(root ${STAGE}/usr)
file(REMOVE_RECURSE ${STAGE})
execute_process(COMMAND ${CMAKE_COMMAND} -E env DESTDIR=${STAGE}
                        ${CMAKE_COMMAND} --install ${BUILD} --prefix /usr
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()
if(IS_ABSOLUTE ${UNITDIR})
  set(units ${STAGE}${UNITDIR})
else()
  set(units ${root}/${UNITDIR})
endif()
foreach(f ${units}/dnsd.service ${units}/geoipd.service ${units}/redirectd.service)
  if(NOT EXISTS ${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
foreach(f bin/dnsd bin/geoipd bin/dnsdctl bin/geoipctl bin/redirectd
          share/doc/signpost/README.md share/doc/signpost/config-reference.md
          share/doc/signpost/examples/dnsd.toml.example
          share/doc/signpost/examples/geoipd.conf.example
          share/doc/signpost/examples/zones/cdn.example.net.zone
          share/doc/signpost/examples/signpost-alerts.yml
          share/doc/signpost/examples/signpost-dashboard.json)
  if(NOT EXISTS ${root}/${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
execute_process(COMMAND ${root}/bin/dnsd --version OUTPUT_VARIABLE v RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT v MATCHES "^dnsd \\(signpost\\) ")
  message(FATAL_ERROR "the installed dnsd does not run: ${rc} ${v}")
endif()
# The manual pages: installed, rendered by groff (every warning on) and by
# man as lintian runs it, without a warning; each has a NAME line whatis can
# read, and it is the program's own: the first line of its --help.
foreach(page man8/dnsd.8 man8/geoipd.8 man8/dnsdctl.8 man8/geoipctl.8 man8/redirectd.8
             man5/dnsd.toml.5)
  set(f ${root}/share/man/${page})
  if(NOT EXISTS ${f})
    message(FATAL_ERROR "not installed: share/man/${page}")
  endif()
  execute_process(COMMAND groff -man -Tutf8 -ww -P-cbou ${f} OUTPUT_VARIABLE text
                  ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
    message(FATAL_ERROR "share/man/${page} does not render cleanly: ${rc}\n${err}")
  endif()
  execute_process(COMMAND man --warnings -E UTF-8 -l -Tutf8 -Z ${f} OUTPUT_QUIET
                  ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
    message(FATAL_ERROR "man -l share/man/${page}: ${rc}\n${err}")
  endif()
  execute_process(COMMAND lexgrog ${f} OUTPUT_VARIABLE whatis RESULT_VARIABLE rc)
  get_filename_component(name ${page} NAME_WLE)
  if(page MATCHES "^man8/")
    execute_process(COMMAND ${root}/bin/${name} --help OUTPUT_VARIABLE help)
    string(REGEX MATCH "^${name}: [^\n]*" what "${help}")
    string(REPLACE "${name}: " "${name} - " what "${what}")
    if(NOT text MATCHES "\n +--version\n")
      message(FATAL_ERROR "share/man/${page} does not list --version")
    endif()
  else()
    set(what "dnsd.toml - configuration file of dnsd")
    if(NOT text MATCHES "\n +listen = ")
      message(FATAL_ERROR "share/man/${page} does not list the key listen")
    endif()
  endif()
  string(FIND "${whatis}" ": \"${what}" at)
  if(NOT rc EQUAL 0 OR what STREQUAL "" OR at EQUAL -1)
    message(FATAL_ERROR "share/man/${page}: whatis reads '${whatis}', not '${what}'")
  endif()
endforeach()
file(REMOVE_RECURSE ${STAGE})
