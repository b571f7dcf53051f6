# The libraries attnscope links, as imported targets: read by CMakeLists.txt and by the installed
# attnscopeConfig.cmake (find_package(attnscope) brings them along, since the static libraries
# need them at link time).
include(CMakeFindDependencyMacro)
find_dependency(Threads)
# OpenMP for our parallel loops: with GCC this is libgomp, the runtime Debian's oneDNN is built
# on, so the library's loops and oneDNN's matmuls share one thread team.
find_dependency(OpenMP COMPONENTS CXX)
# oneDNN: Debian's dnnl-config.cmake drags in OpenCL (GPU runtime) we never use; link the
# library directly instead.
if(NOT TARGET DNNL::dnnl)
  find_library(DNNL_LIBRARY dnnl REQUIRED)
  find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp REQUIRED)
  add_library(DNNL::dnnl UNKNOWN IMPORTED)
  set_target_properties(DNNL::dnnl PROPERTIES IMPORTED_LOCATION ${DNNL_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${DNNL_INCLUDE_DIR})
endif()
# Highway (libhwy-dev): portable SIMD with run-time dispatch for the stored-weight kernels.
if(NOT TARGET hwy::hwy)
  find_library(HWY_LIBRARY hwy REQUIRED)
  find_path(HWY_INCLUDE_DIR hwy/highway.h REQUIRED)
  add_library(hwy::hwy UNKNOWN IMPORTED)
  set_target_properties(hwy::hwy PROPERTIES IMPORTED_LOCATION ${HWY_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${HWY_INCLUDE_DIR} INTERFACE_COMPILE_DEFINITIONS HWY_SHARED_DEFINE)
endif()
find_dependency(nlohmann_json)
find_dependency(PkgConfig)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
pkg_check_modules(CAIRO REQUIRED IMPORTED_TARGET cairo)
find_dependency(CURL)
find_dependency(OpenSSL COMPONENTS Crypto)  # SHA-256 of hub downloads (libcurl links it anyway)
find_dependency(ZLIB)
find_dependency(Boost)  # header-only: Boost.Graph's max-flow for attention flow
