# gpas_write_if_changed(PATH TEXT): writes TEXT to PATH unless PATH holds it already, so that a
# generated source whose content did not change is not touched and recompiles nothing.
function(gpas_write_if_changed path text)
  if(EXISTS ${path})
    file(READ ${path} old)
  else()
    set(old "")
  endif()
  if(NOT old STREQUAL text)
    file(WRITE ${path} "${text}")
  endif()
endfunction()
