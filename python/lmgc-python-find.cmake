# Looks for what the Python package needs (included by the top-level CMakeLists.txt before
# its LMGC_BUILD_PYTHON option): a Python 3 interpreter with headers and pybind11. Sets
# LMGC_PYTHON_FOUND. Debian's /usr/bin/python3 is taken over any other python3 on PATH (it is
# the one with python3-numpy and python3-torch); pass -DPython3_EXECUTABLE=... to choose
# another.
if(NOT DEFINED Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
  set(Python3_EXECUTABLE /usr/bin/python3 CACHE FILEPATH "Python 3 interpreter for the lmgc package")
endif()
find_package(Python3 COMPONENTS Interpreter Development.Module QUIET)
set(LMGC_PYTHON_FOUND OFF)
if(Python3_FOUND)
  # With Python3 found first, pybind11 uses it (its FindPython mode).
  find_package(pybind11 CONFIG QUIET)
  if(pybind11_FOUND)
    set(LMGC_PYTHON_FOUND ON)
  endif()
endif()
