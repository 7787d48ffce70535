# Kafka sink, included by agent/CMakeLists.txt. Needs fs_records (the codec table, encoders and
# the loop, defined by agent/CMakeLists.txt) and librdkafka.
add_library(fs_sink_kafka STATIC ${CMAKE_CURRENT_LIST_DIR}/sink_kafka.c
	${CMAKE_CURRENT_LIST_DIR}/kafka_stats.c)
target_include_directories(fs_sink_kafka PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(fs_sink_kafka PUBLIC fs_records PkgConfig::RDKAFKA PkgConfig::JANSSON)

# --kafka-format protobuf-sr: the Schema Registry client (libcurl) and the schema it registers,
# records.proto's text compiled in (records_proto_text.c, generated in the build dir).
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
set(FS_RECORDS_PROTO ${CMAKE_SOURCE_DIR}/proto/flowscope/v1/records.proto)
add_custom_command(
	OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/records_proto_text.c
	COMMAND ${CMAKE_COMMAND} -DIN=${FS_RECORDS_PROTO}
		-DOUT=${CMAKE_CURRENT_BINARY_DIR}/records_proto_text.c
		-DNAME=flowscope_records_proto -P ${CMAKE_CURRENT_LIST_DIR}/embed_text.cmake
	DEPENDS ${FS_RECORDS_PROTO} ${CMAKE_CURRENT_LIST_DIR}/embed_text.cmake
	COMMENT "embedding records.proto"
	VERBATIM)
add_library(fs_schema_registry STATIC ${CMAKE_CURRENT_LIST_DIR}/schema_registry.c
	${CMAKE_CURRENT_BINARY_DIR}/records_proto_text.c)
target_include_directories(fs_schema_registry PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(fs_schema_registry PUBLIC PkgConfig::CURL PkgConfig::JANSSON)
