# Shared by the scripts: find JDK 25, run the Maven wrapper, build the daemon's class path.
# Sourced, not run.
VNICD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

vnicd_die() { echo "vnicd: $*" >&2; exit 1; }

# JAVA_HOME if it is a JDK 25 or newer, else the first /usr/lib/jvm/*25* (or newer) found.
vnicd_find_jdk() {
  local candidate version
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/*25* /usr/lib/jvm/*2[6-9]* /usr/lib/jvm/*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/javac" ] || continue
    version=$("$candidate/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    if [ -n "$version" ] && [ "${version%%.*}" -ge 25 ] 2>/dev/null; then
      export JAVA_HOME="$candidate"
      return 0
    fi
  done
  vnicd_die "no JDK 25 found (looked at JAVA_HOME and /usr/lib/jvm). Install one, e.g. Temurin 25, or set JAVA_HOME."
}

vnicd_mvn() {
  vnicd_find_jdk
  # Maven 3.9's Guice calls sun.misc.Unsafe: allowed quietly on JDK 25.
  (cd "$VNICD_ROOT" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" ./mvnw -B -ntp "$@")
}

# The JVM flags every vnicd process runs with (kept equal to vnicd.jvm.flags in pom.xml).
VNICD_JVM_FLAGS=(--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-exports=java.base/sun.nio.ch=ALL-UNNAMED
  --add-exports=java.base/jdk.internal.ref=ALL-UNNAMED -Dchronicle.analytics.disable=true)

# Runs a main class of vmm-glue with the project's JVM flags, building first when the build is missing or (unless
# VNICD_NO_REBUILD=1, as for vnicctl next to a running daemon) older than the sources.
vnicd_exec_main() {
  vnicd_exec_module_main vmm-glue "$@"
}

# The same for a main class of another module: vnicd_exec_module_main MODULE MAIN ARGS...
vnicd_exec_module_main() {
  local module=$1 main=$2; shift 2
  vnicd_find_jdk
  local cp_file="$VNICD_ROOT/$module/target/classpath.txt"
  local jar="$VNICD_ROOT/$module/target/vnicd-$module-0.1.0-SNAPSHOT.jar"
  if [ ! -f "$cp_file" ] || [ ! -f "$jar" ] || { [ "${VNICD_NO_REBUILD:-0}" != 1 ] && \
     [ -n "$(find "$VNICD_ROOT" \( -path '*/src/main/*' -o -name pom.xml \) -newer "$jar" -print -quit 2>/dev/null)" ]; }; then
    echo "vnicd: building..." >&2
    vnicd_mvn -q install -DskipTests >&2
  fi
  exec "$JAVA_HOME/bin/java" "${VNICD_JVM_FLAGS[@]}" ${VNICD_JAVA_OPTS:-} \
    -Djava.util.logging.config.file="$VNICD_ROOT/vmm-glue/src/main/resources/logging.properties" \
    -cp "$jar:$(cat "$cp_file")" "$main" "$@"
}

# A dpdk-testpmd frontend for bench and demo: two virtio-user ports on SOCK0 and SOCK1, io forwarding, its
# forwarding core on CPU 0; interactive commands come from stdin.  vnicd_testpmd_frontend PREFIX SECONDS SOCK0 SOCK1
vnicd_testpmd_frontend() {
  local prefix=$1 limit=$2 s0=$3 s1=$4
  timeout "$limit" dpdk-testpmd -l 0,1 --main-lcore 1 --file-prefix="$prefix" --single-file-segments -m 256 --no-pci \
    --vdev "net_virtio_user0,path=$s0,queues=1,queue_size=256" --vdev "net_virtio_user1,path=$s1,queues=1,queue_size=256" -- \
    -i --forward-mode=io --nb-cores=1 --total-num-mbufs=16384
}
