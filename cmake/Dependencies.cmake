# Every third-party dependency, each from a Debian package that manage.sh install-deps
# installs (the package is named beside each). README.md says why each was chosen.
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS system)            # libboost-dev, libboost-system-dev
find_package(RocksDB REQUIRED CONFIG)                          # librocksdb-dev
find_package(SQLite3 REQUIRED)                                 # libsqlite3-dev
find_package(PostgreSQL REQUIRED)                              # libpq-dev
find_package(nlohmann_json 3.10 REQUIRED)                      # nlohmann-json3-dev
find_package(spdlog REQUIRED)                                  # libspdlog-dev
find_package(fmt REQUIRED)                                     # libfmt-dev
find_package(simdjson REQUIRED CONFIG)                       # libsimdjson-dev
find_package(OpenSSL REQUIRED)                                 # libssl-dev
find_package(GTest REQUIRED)                                   # libgtest-dev
find_package(benchmark QUIET)                                  # libbenchmark-dev
find_package(PkgConfig REQUIRED)
pkg_check_modules(ARGON2 REQUIRED IMPORTED_TARGET libargon2)   # libargon2-dev
include(GoogleTest)
