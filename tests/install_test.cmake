# Installs the build into PREFIX and checks the layout: binaries that run,
# the systemd units, the example configs and the documentation.
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD} --prefix ${PREFIX}
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()
foreach(f bin/dnsd bin/geoipd bin/dnsdctl bin/geoipctl
          lib/systemd/system/dnsd.service lib/systemd/system/geoipd.service
          share/doc/signpost/README.md share/doc/signpost/config-reference.md
          share/doc/signpost/examples/dnsd.toml.example
          share/doc/signpost/examples/geoipd.conf.example
          share/doc/signpost/examples/zones/cdn.example.net.zone)
  if(NOT EXISTS ${PREFIX}/${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
execute_process(COMMAND ${PREFIX}/bin/dnsd --version OUTPUT_VARIABLE v RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT v MATCHES "^dnsd \\(signpost\\) ")
  message(FATAL_ERROR "the installed dnsd does not run: ${rc} ${v}")
endif()
file(REMOVE_RECURSE ${PREFIX})
