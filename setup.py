"""Builds attnscope's Python package: the pure-Python files from python/attnscope, the
extension attnscope._core and the `attnscope` command (attnscope/_bin/attnscope, run by the
console script attnscope._cli:main), compiled by the project's CMake build (targets _core and
attnscope_cli) for the Python that runs this script. No downloads: CMake finds Debian's pybind11 and the system libraries.

ATTNSCOPE_CMAKE_BUILD_DIR: reuse an existing CMake build directory instead of a fresh one.
"""

import os
import pathlib
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).resolve().parent


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        reuse = os.environ.get("ATTNSCOPE_CMAKE_BUILD_DIR")
        build_dir = pathlib.Path(reuse or pathlib.Path(self.build_temp).resolve() / "cmake")
        build_dir.mkdir(parents=True, exist_ok=True)
        if not reuse:  # an existing build directory keeps its own settings
            subprocess.check_call([
                "cmake", "-S", str(ROOT), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
                "-DATTNSCOPE_PYTHON=ON", "-DATTNSCOPE_BENCH=OFF", "-DBUILD_TESTING=OFF",
                f"-DATTNSCOPE_PYTHON_EXECUTABLE={sys.executable}"])
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        subprocess.check_call(
            ["cmake", "--build", str(build_dir), "--target", "_core", "attnscope_cli", "-j", jobs])
        built = sorted((build_dir / "python" / "attnscope").glob("_core*.so"))
        if not built:
            raise RuntimeError(f"CMake did not produce attnscope/_core*.so under {build_dir}")
        target = pathlib.Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built[-1], target)
        (target.parent / "_bin").mkdir(exist_ok=True)
        shutil.copy2(build_dir / "bin" / "attnscope", target.parent / "_bin" / "attnscope")


setup(
    packages=["attnscope", "attnscope.visualization"],
    package_dir={"": "python"},
    ext_modules=[Extension("attnscope._core", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    zip_safe=False,
)
