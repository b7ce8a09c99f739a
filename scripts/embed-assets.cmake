# Builds the live view's files into the daemon: writes OUT, a C file with
# each file of IN (index.html, app.js, app.css) as a byte array and the
# table rn__web_asset() looks names up in (src/ctl/web.h).  Run by the
# build as `cmake -DIN=... -DOUT=... -P embed-assets.cmake` whenever one of
# the files changes; needs nothing but CMake.
set(files index.html app.js app.css)
set(types "text/html\; charset=utf-8" "text/javascript\; charset=utf-8" "text/css\; charset=utf-8")
set(body "/* Generated from src/ctl/web/ by scripts/embed-assets.cmake: do not edit. */\n")
string(APPEND body "#include <stddef.h>\n#include <string.h>\n\n#include \"ctl/web.h\"\n\n")
set(table "")
set(i 0)
foreach(f ${files})
  list(GET types ${i} type)
  file(READ "${IN}/${f}" hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR len "${hexlen} / 2")
  # A file that could end an inline <script> or <style> block of the report
  # would break it: refuse it here, at build time.
  file(READ "${IN}/${f}" text)
  string(TOLOWER "${text}" lower)
  if(NOT f STREQUAL "index.html" AND (lower MATCHES "</script" OR lower MATCHES "</style"))
    message(FATAL_ERROR "${f} contains </script or </style: it is inlined into the report")
  endif()
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," arr "${hex}")
  string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" arr "${arr}")
  string(MAKE_C_IDENTIFIER "${f}" id)
  string(APPEND body "static const unsigned char asset_${id}[] = {\n${arr}0x00};\n\n")
  string(APPEND table "    {\"${f}\", \"${type}\", asset_${id}, ${len}},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND body "static const struct rn__web_asset assets[] = {\n${table}};\n\n")
string(APPEND body "const struct rn__web_asset *rn__web_asset(const char *name)\n{\n")
string(APPEND body "    size_t i;\n\n    for (i = 0; i < sizeof(assets) / sizeof(assets[0]); i++)\n")
string(APPEND body "        if (strcmp(assets[i].wa_name, name) == 0)\n            return &assets[i];\n")
string(APPEND body "    return NULL;\n}\n")
file(WRITE "${OUT}.tmp" "${body}")
file(RENAME "${OUT}.tmp" "${OUT}")
