# BPF build helpers, after libbpf-bootstrap's bpf_object() pattern.
#
# vmlinux.h: by default the one checked in for the target architecture,
# bpf/vmlinux/<arch>/vmlinux.h (as libbpf-tools keeps them), so a build does not depend on the
# build host's kernel. With -DFLOWSCOPE_BTF=<file> it is generated from that BTF instead, into a
# temporary file copied over the real one only when it changed, so rebuilds stay incremental.

find_program(CLANG_EXE NAMES clang clang-14 REQUIRED)
find_program(BPFTOOL_EXE NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

set(FLOWSCOPE_BPF_GEN ${CMAKE_BINARY_DIR}/bpf-gen)
file(MAKE_DIRECTORY ${FLOWSCOPE_BPF_GEN})

# The kernel's name of the target architecture (__TARGET_ARCH_*, bpf/vmlinux/<arch>/).
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
	set(FLOWSCOPE_BPF_ARCH_DEFAULT x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
	set(FLOWSCOPE_BPF_ARCH_DEFAULT arm64)
else()
	set(FLOWSCOPE_BPF_ARCH_DEFAULT ${CMAKE_SYSTEM_PROCESSOR})
endif()
set(FLOWSCOPE_BPF_ARCH ${FLOWSCOPE_BPF_ARCH_DEFAULT} CACHE STRING
	"Kernel architecture name the BPF objects are built for (x86, arm64, ...)")

if(FLOWSCOPE_BTF)
	if(NOT EXISTS ${FLOWSCOPE_BTF})
		message(FATAL_ERROR "FLOWSCOPE_BTF: BTF file ${FLOWSCOPE_BTF} not found (a kernel "
			"built with CONFIG_DEBUG_INFO_BTF has /sys/kernel/btf/vmlinux)")
	endif()
	set(FLOWSCOPE_VMLINUX_DIR ${FLOWSCOPE_BPF_GEN}/vmlinux)
	file(MAKE_DIRECTORY ${FLOWSCOPE_VMLINUX_DIR})
	add_custom_command(OUTPUT ${FLOWSCOPE_VMLINUX_DIR}/vmlinux.h
		COMMAND ${BPFTOOL_EXE} btf dump file ${FLOWSCOPE_BTF} format c
			> ${FLOWSCOPE_VMLINUX_DIR}/vmlinux.h.tmp
		COMMAND ${CMAKE_COMMAND} -E copy_if_different ${FLOWSCOPE_VMLINUX_DIR}/vmlinux.h.tmp
			${FLOWSCOPE_VMLINUX_DIR}/vmlinux.h
		COMMAND ${CMAKE_COMMAND} -E remove ${FLOWSCOPE_VMLINUX_DIR}/vmlinux.h.tmp
		DEPENDS ${FLOWSCOPE_BTF}
		COMMENT "Generating vmlinux.h from ${FLOWSCOPE_BTF}"
		VERBATIM)
	message(STATUS "vmlinux.h: generated from ${FLOWSCOPE_BTF}")
else()
	set(FLOWSCOPE_VMLINUX_DIR ${CMAKE_SOURCE_DIR}/bpf/vmlinux/${FLOWSCOPE_BPF_ARCH})
	if(NOT EXISTS ${FLOWSCOPE_VMLINUX_DIR}/vmlinux.h)
		message(FATAL_ERROR "No vmlinux.h checked in for architecture '${FLOWSCOPE_BPF_ARCH}' "
			"(bpf/vmlinux/${FLOWSCOPE_BPF_ARCH}/vmlinux.h). Configure with "
			"-DFLOWSCOPE_BTF=<BTF file of a kernel of that architecture> (e.g. "
			"/sys/kernel/btf/vmlinux) to generate one; see bpf/vmlinux/README.md.")
	endif()
	message(STATUS "vmlinux.h: bpf/vmlinux/${FLOWSCOPE_BPF_ARCH}/vmlinux.h")
endif()
add_custom_target(vmlinux_h DEPENDS ${FLOWSCOPE_VMLINUX_DIR}/vmlinux.h)

if(FLOWSCOPE_WERROR)
	set(FLOWSCOPE_BPF_WERROR -Werror)
else()
	set(FLOWSCOPE_BPF_WERROR)
endif()

# bpf_object(NAME SOURCE [DEPENDS headers...])
# Compiles SOURCE (NAME.bpf.c) to NAME.bpf.o, generates NAME.skel.h with bpftool, and exposes the
# interface library NAME_skel, which user code links to get the skeleton header and libbpf.
function(bpf_object name source)
	cmake_parse_arguments(ARG "" "" "DEPENDS" ${ARGN})
	get_filename_component(src ${source} ABSOLUTE)
	set(obj ${FLOWSCOPE_BPF_GEN}/${name}.bpf.o)
	set(skel ${FLOWSCOPE_BPF_GEN}/${name}.skel.h)
	add_custom_command(OUTPUT ${obj}
		COMMAND ${CLANG_EXE} -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_${FLOWSCOPE_BPF_ARCH}
			-Wall -Wextra ${FLOWSCOPE_BPF_WERROR} -Wno-unused-parameter
			-I${FLOWSCOPE_VMLINUX_DIR} -I${CMAKE_SOURCE_DIR}/bpf -idirafter /usr/include
			-idirafter /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}
			-c ${src} -o ${obj}
		DEPENDS ${src} ${ARG_DEPENDS} ${FLOWSCOPE_VMLINUX_DIR}/vmlinux.h
		IMPLICIT_DEPENDS C ${src}
		COMMENT "BPF ${name}.bpf.c"
		VERBATIM)
	add_custom_command(OUTPUT ${skel}
		COMMAND ${BPFTOOL_EXE} gen skeleton ${obj} name ${name}_bpf > ${skel}.tmp
		COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
		DEPENDS ${obj}
		COMMENT "Skeleton ${name}.skel.h"
		VERBATIM)
	add_custom_target(${name}_skel_gen DEPENDS ${skel})
	# vmlinux.h may be generated in the top directory; order it before this one
	add_dependencies(${name}_skel_gen vmlinux_h)
	add_library(${name}_skel INTERFACE)
	add_dependencies(${name}_skel ${name}_skel_gen)
	target_include_directories(${name}_skel INTERFACE ${FLOWSCOPE_BPF_GEN})
	target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF PkgConfig::LIBELF PkgConfig::ZLIB)
endfunction()
