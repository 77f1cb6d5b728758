// hnswlib (C++, header-only, Debian's libhnswlib-dev) side of
// `sextant bench ann --peer hnswlib-native`: the same protocol and JSON keys
// as bench/ann_peer.py, but compiled here with -O3 -march=native, so
// hnswlib uses the widest SIMD this CPU has (the Python module from Debian
// is built for baseline x86-64 and uses SSE). One thread for build and
// queries; QPS is the median over ten slices of the queries, latency per
// query, memory the RSS growth during the build.
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

static void die(const std::string &msg) {
    std::cerr << "ann_peer: " << msg << std::endl;
    std::exit(2);
}

template <typename T>
static std::vector<T> read_vecs(const std::string &path, size_t &dim, size_t &n) {
    std::ifstream f(path, std::ios::binary);
    if (!f) die("cannot open " + path);
    std::vector<T> out;
    n = 0;
    dim = 0;
    int32_t d;
    while (f.read(reinterpret_cast<char *>(&d), 4)) {
        if (d <= 0 || (dim && size_t(d) != dim)) die(path + ": bad dimension");
        dim = d;
        size_t off = out.size();
        out.resize(off + dim);
        if (!f.read(reinterpret_cast<char *>(&out[off]), dim * sizeof(T))) die(path + ": truncated");
        n++;
    }
    return out;
}

static long rss_bytes() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6) * 1024;
    return 0;
}

static void normalize(float *v, size_t dim) {
    double s = 0;
    for (size_t i = 0; i < dim; i++) s += double(v[i]) * v[i];
    float inv = s > 0 ? float(1 / std::sqrt(s)) : 0;
    for (size_t i = 0; i < dim; i++) v[i] *= inv;
}

int main(int argc, char **argv) {
    std::string base, queries, gtpath, space = "cosine", efs = "16,32,64,128,256";
    size_t k = 10, M = 16, efc = 200, seed = 1;
    bool serve = false;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) die("missing value for " + a);
            return argv[++i];
        };
        if (a == "--base") base = next();
        else if (a == "--queries") queries = next();
        else if (a == "--gt") gtpath = next();
        else if (a == "--space") space = next();
        else if (a == "--k") k = std::stoul(next());
        else if (a == "--m") M = std::stoul(next());
        else if (a == "--ef-construction") efc = std::stoul(next());
        else if (a == "--ef") efs = next();
        else if (a == "--seed") seed = std::stoul(next());
        else if (a == "--serve") serve = true;
        else die("unknown flag " + a);
    }
    size_t dim, n, qdim, nq, gdim, ng;
    std::vector<float> X = read_vecs<float>(base, dim, n);
    std::vector<float> Q = read_vecs<float>(queries, qdim, nq);
    std::vector<int32_t> G = read_vecs<int32_t>(gtpath, gdim, ng);
    if (qdim != dim || ng < nq) die("queries or ground truth do not match the base");
    std::vector<size_t> ef_list;
    {
        std::stringstream ss(efs);
        std::string t;
        while (std::getline(ss, t, ',')) ef_list.push_back(std::stoul(t));
    }

    hnswlib::SpaceInterface<float> *sp;
    if (space == "l2") {
        sp = new hnswlib::L2Space(dim);
    } else {
        sp = new hnswlib::InnerProductSpace(dim);
        if (space == "cosine") {
            for (size_t i = 0; i < n; i++) normalize(&X[i * dim], dim);
            for (size_t i = 0; i < nq; i++) normalize(&Q[i * dim], dim);
        }
    }
    long rss0 = rss_bytes();
    auto t0 = std::chrono::steady_clock::now();
    auto *idx = new hnswlib::HierarchicalNSW<float>(sp, n, M, efc, seed);
    for (size_t i = 0; i < n; i++) idx->addPoint(&X[i * dim], i);
    double build = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    long mem = rss_bytes() - rss0;
    char param[256];
    std::snprintf(param, sizeof param, "M=%zu,efC=%zu,space=%s,hnswlib=%s,-O3 -march=native", M, efc, space.c_str(), "libhnswlib-dev");

    auto sweep = [&]() {
        for (size_t ef : ef_list) {
            idx->setEf(ef);
            for (size_t i = 0; i < std::min<size_t>(nq, 200); i++) idx->searchKnn(&Q[i * dim], k);
            std::vector<double> lat(nq), rates;
            size_t hits = 0, total = 0;
            for (int s = 0; s < 10; s++) {
                size_t lo = s * nq / 10, hi = (s + 1) * nq / 10;
                if (lo == hi) continue;
                auto ts = std::chrono::steady_clock::now();
                for (size_t i = lo; i < hi; i++) {
                    auto tq = std::chrono::steady_clock::now();
                    auto res = idx->searchKnn(&Q[i * dim], k);
                    lat[i] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - tq).count();
                    std::set<int32_t> want(&G[i * gdim], &G[i * gdim] + std::min<size_t>(10, gdim));
                    std::vector<int32_t> got;
                    while (!res.empty()) {
                        got.push_back(int32_t(res.top().second));
                        res.pop();
                    }
                    std::reverse(got.begin(), got.end());
                    for (size_t j = 0; j < got.size() && j < 10; j++) hits += want.count(got[j]);
                    total += want.size();
                }
                rates.push_back((hi - lo) / std::chrono::duration<double>(std::chrono::steady_clock::now() - ts).count());
            }
            std::sort(lat.begin(), lat.end());
            std::sort(rates.begin(), rates.end());
            auto pct = [&](double p) { size_t i = size_t(std::ceil(p * lat.size())); return lat[i ? i - 1 : 0]; };
            std::printf("{\"engine\": \"hnswlib-native\", \"param\": \"%s\", \"ef\": %zu, \"recall_at_10\": %.6f, \"qps\": %.3f, "
                        "\"p50_us\": %.3f, \"p99_us\": %.3f, \"build_seconds\": %.3f, \"memory_bytes\": %ld}\n",
                        param, ef, double(hits) / double(total), rates[rates.size() / 2], pct(0.5), pct(0.99), build, mem);
            std::fflush(stdout);
        }
    };
    if (!serve) {
        sweep();
        return 0;
    }
    std::printf("{\"event\": \"ready\", \"engine\": \"hnswlib-native\", \"param\": \"%s\", \"build_seconds\": %.3f, "
                "\"memory_bytes\": %ld, \"note\": \"memory = RSS growth during the build\"}\n", param, build, mem);
    std::fflush(stdout);
    std::string line;
    while (std::getline(std::cin, line)) {
        if (line == "sweep") {
            sweep();
            std::printf("{\"event\": \"done\"}\n");
            std::fflush(stdout);
        } else if (line == "quit" || line.empty()) {
            break;
        } else {
            die("unknown command " + line);
        }
    }
    return 0;
}
