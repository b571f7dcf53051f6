# find_package(attnscope): the target attnscope::attnscope (every layer of the library, with the
# libraries they link) and the public headers <attnscope/*.h>.
include(${CMAKE_CURRENT_LIST_DIR}/attnscope_dependencies.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/attnscopeTargets.cmake)
