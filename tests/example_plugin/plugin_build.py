"""What every out-of-tree plugin test does (tests/example_plugin,
tests/etcd): run commands showing them, install a baton build tree into a
relocated prefix, and build a plugin's source tree against that prefix."""
import os
import shutil
import subprocess
import sys


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def run(cmd, **kw):
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], text=True, **kw)


def run_streamed(cmd, env=None):
    """Runs cmd with its output shown as it comes; returns (exit status, output)."""
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    proc = subprocess.Popen([str(c) for c in cmd], text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env)
    lines = []
    for line in proc.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    return proc.wait(), "".join(lines)


def must(cmd, **kw):
    result = run(cmd, **kw)
    if result.returncode != 0:
        fail(f"exit {result.returncode}: {' '.join(str(c) for c in cmd)}\n{result.stdout or ''}{result.stderr or ''}")
    return result


def install_prefix(build_dir, work, prefix):
    """Installs the baton build tree into `prefix`, a fresh directory under
    `work`; the install is made elsewhere and moved there, so the tree is
    proved relocatable."""
    installed = os.path.join(work, "installed")
    shutil.rmtree(installed, ignore_errors=True)
    must(["cmake", "--install", build_dir, "--prefix", installed])
    os.rename(installed, prefix)


def build_plugin(source, build, prefix, plugin, generator, cxx):
    """Configures and builds `source` against the baton in `prefix`; returns
    the path of the plugin file `plugin` the build must make."""
    must(["cmake", "-S", source, "-B", build, "-G", generator, f"-DCMAKE_PREFIX_PATH={prefix}",
          "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_CXX_COMPILER={cxx}", f"-DCMAKE_INSTALL_PREFIX={prefix}"])
    must(["cmake", "--build", build, "-j2"])
    path = os.path.join(build, plugin)
    if not os.path.isfile(path):
        fail(f"the build made no {path}")
    return path
