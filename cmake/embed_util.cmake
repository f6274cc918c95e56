# The pieces cmake/embed_migrations.cmake and cmake/embed_web.cmake share.

# embed_bytes(VAR FILE): VAR gets FILE's bytes as a C initializer list
# ("0x2d,0x2d,...,0"; the 0 terminates text). Editing FILE re-runs CMake.
function(embed_bytes var f)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${f})
  file(READ ${f} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  set(${var} "${hex}0" PARENT_SCOPE)
endfunction()

# embed_write(OUT CONTENT): writes OUT only when its content changes, so an
# unchanged generated file does not make everything after it rebuild.
function(embed_write out content)
  if(EXISTS ${out})
    file(READ ${out} old)
  endif()
  if(NOT "${old}" STREQUAL "${content}")
    file(WRITE ${out} "${content}")
  endif()
endfunction()
