// Empty: the link-check shared objects (CMakeLists.txt, attnscope_layer) are made of a layer's
// whole archive; CMake wants one source of their own.
