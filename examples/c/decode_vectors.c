/*
 * Decode every case of gridgames decode vector files with the C library and compare
 * with the expected f32, f16 and bf16 bit patterns.
 *
 *   cargo build --release -p gridgames-capi
 *   cc -O2 -Icapi/include examples/c/decode_vectors.c target/release/libgridgames_capi.a \
 *      -lpthread -ldl -lm -o decode_vectors
 *   ./decode_vectors vectors/nvfp4/decode.txt vectors/mxfp4/decode.txt ...
 *
 * Line format: vectors/README.md. Any NaN matches an expected NaN (the files write the
 * canonical quiet NaN). Exit status 0 when every case of every file matches.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridgames.h"

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parse `len` hex digits as words of `digits` digits each into out; returns the count or -1. */
static long parse_words(const char *s, size_t len, int digits, uint32_t *out, size_t cap) {
    if (len % (size_t)digits != 0 || len / (size_t)digits > cap) return -1;
    size_t n = len / (size_t)digits;
    for (size_t i = 0; i < n; i++) {
        uint32_t w = 0;
        for (int k = 0; k < digits; k++) {
            int v = hexval(s[i * (size_t)digits + (size_t)k]);
            if (v < 0) return -1;
            w = (w << 4) | (uint32_t)v;
        }
        out[i] = w;
    }
    return (long)n;
}

/* Find `key=` in a data line; sets *len to the value length. */
static const char *field(const char *line, const char *key, size_t *len) {
    size_t kl = strlen(key);
    const char *p = line;
    while (p && *p) {
        if ((p == line || p[-1] == ' ') && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            const char *v = p + kl + 1;
            const char *e = v;
            while (*e && *e != ' ' && *e != '\n' && *e != '\r') e++;
            *len = (size_t)(e - v);
            return v;
        }
        p = strchr(p + 1, ' ');
        if (p) p++;
    }
    return NULL;
}

static int is_nan(uint32_t v, uint32_t kind) {
    if (kind == GG_OUTPUT_F32) return (v & 0x7f800000u) == 0x7f800000u && (v & 0x7fffffu) != 0;
    if (kind == GG_OUTPUT_F16) return (v & 0x7c00u) == 0x7c00u && (v & 0x3ffu) != 0;
    return (v & 0x7f80u) == 0x7f80u && (v & 0x7fu) != 0;
}

#define CAP 4096

static int check_file(const char *path, long *cases, long *failures) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    char *line = NULL;
    size_t linecap = 0;
    ssize_t got;
    int format = -1;
    long lineno = 0;
    static uint32_t words[CAP], expected[CAP], out[CAP];
    static uint8_t codes[CAP], scales[CAP];
    while ((got = getline(&line, &linecap, f)) > 0) {
        lineno++;
        if (line[0] == '#') {
            if (strncmp(line, "# format: ", 10) == 0) {
                char *name = line + 10;
                size_t l = strcspn(name, "\r\n");
                format = gg_format_find((const uint8_t *)name, l);
                if (format < 0) {
                    fprintf(stderr, "%s: format `%.*s` is not built into the library\n", path, (int)l, name);
                    fclose(f);
                    free(line);
                    return -1;
                }
            }
            continue;
        }
        if (line[0] == '\n' || line[0] == '\0') continue;
        if (format < 0) {
            fprintf(stderr, "%s:%ld: data line before `# format:`\n", path, lineno);
            break;
        }
        size_t ql, sl, tl, cl = 0;
        const char *q = field(line, "q", &ql), *s = field(line, "s", &sl), *t = field(line, "t", &tl);
        const char *c = field(line, "case", &cl);
        if (!q || !s || !t) {
            fprintf(stderr, "%s:%ld: missing q, s or t\n", path, lineno);
            (*failures)++;
            continue;
        }
        long nq = parse_words(q, ql, 2, words, CAP);
        for (long i = 0; i < nq; i++) codes[i] = (uint8_t)words[i];
        long ns = parse_words(s, sl, 2, words, CAP);
        for (long i = 0; i < ns; i++) scales[i] = (uint8_t)words[i];
        uint32_t tbits = 0x3f800000u;
        if (!(tl == 1 && t[0] == '-')) parse_words(t, tl, 8, &tbits, 1);
        float ts;
        memcpy(&ts, &tbits, 4);
        if (nq < 0 || ns < 0) {
            fprintf(stderr, "%s:%ld: bad hex\n", path, lineno);
            (*failures)++;
            continue;
        }
        size_t n = (size_t)nq * 2;
        (*cases)++;
        size_t el;
        const char *e = field(line, "error", &el);
        if (e) {
            int want = (el == 16 && strncmp(e, "invalid-selector", 16) == 0) ? GG_ERR_SELECTOR
                     : (el == 12 && strncmp(e, "invalid-code", 12) == 0)     ? GG_ERR_CODE
                                                                              : GG_ERR_LENGTH;
            GgError err;
            int st = gg_decode_bits((uint32_t)format, codes, (size_t)nq, scales, (size_t)ns, ts, GG_OUTPUT_F32, out, n, &err);
            if (st != want) {
                fprintf(stderr, "%s:%ld: case %.*s: status %d, expected %d (%.*s)\n", path, lineno, (int)cl, c, st, want, (int)el, e);
                (*failures)++;
            }
            continue;
        }
        const char *keys[3] = {"f32", "f16", "bf16"};
        const uint32_t kinds[3] = {GG_OUTPUT_F32, GG_OUTPUT_F16, GG_OUTPUT_BF16};
        const int digits[3] = {8, 4, 4};
        for (int k = 0; k < 3; k++) {
            size_t vl;
            const char *v = field(line, keys[k], &vl);
            if (!v) continue;
            long nv = parse_words(v, vl, digits[k], expected, CAP);
            if (nv != (long)n) {
                fprintf(stderr, "%s:%ld: %s has %ld values, expected %zu\n", path, lineno, keys[k], nv, n);
                (*failures)++;
                break;
            }
            GgError err;
            int st = gg_decode_bits((uint32_t)format, codes, (size_t)nq, scales, (size_t)ns, ts, kinds[k], out, n, &err);
            if (st != GG_OK) {
                fprintf(stderr, "%s:%ld: case %.*s: decode failed with status %d\n", path, lineno, (int)cl, c, st);
                (*failures)++;
                break;
            }
            for (size_t i = 0; i < n; i++) {
                if (out[i] != expected[i] && !(is_nan(out[i], kinds[k]) && is_nan(expected[i], kinds[k]))) {
                    fprintf(stderr, "%s:%ld: case %.*s: %s element %zu: got %0*x, expected %0*x\n", path, lineno,
                            (int)cl, c, keys[k], i, digits[k], out[i], digits[k], expected[i]);
                    (*failures)++;
                    break;
                }
            }
        }
    }
    free(line);
    fclose(f);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s vectors/<format>/decode.txt...\n", argv[0]);
        return 2;
    }
    long total = 0, failures = 0;
    int bad_files = 0;
    for (int i = 1; i < argc; i++) {
        long cases = 0, before = failures;
        if (check_file(argv[i], &cases, &failures) != 0) {
            bad_files++;
            continue;
        }
        printf("%s: %ld cases, %ld failures\n", argv[i], cases, failures - before);
        total += cases;
    }
    printf("C decoder (libgridgames_capi, %u formats): %ld cases, %ld failures\n", gg_format_count(), total, failures);
    return (failures || bad_files) ? 1 : 0;
}
