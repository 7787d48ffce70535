# cmake -DIN=file -DOUT=file.c -DNAME=symbol -P embed_text.cmake: writes a C file that defines
# `const char NAME[]`, the text of IN with a terminating NUL (records.proto for the Schema
# Registry, which is sent the schema's text).
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n\t"
	bytes "${bytes}")
file(WRITE ${OUT}.tmp "/* generated from ${IN} by agent/embed_text.cmake */\n"
	"extern const char ${NAME}[];\nconst char ${NAME}[] = {\n\t${bytes}0x00\n};\n")
file(RENAME ${OUT}.tmp ${OUT})
