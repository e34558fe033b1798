/* Products of a few rows with MLX's affine-quantized weights on the CPU, near memory bandwidth.

   MLX's layout (mx.quantize, group size 32): a weight of N rows and K columns is stored row by
   row in uint32 words, 32 / bits values a word, the first value in the lowest bits; each group
   of 32 consecutive values of a row has a scale s and a bias b, and a value is s * q + b. So
       y[m, n] = sum_g s[n, g] * (q[n, g] . x[m, g]) + b[n, g] * sum(x[m, g]).

   mlxfn_qmv computes y = x @ W.T for up to 16 rows of x (decode), reading W once: eight words
   (256 bits) at a time for 4 bits, each lane one word, so value j of every word comes out of
   one shift and one mask, with no shuffles (x is reordered once per call to match); 8-bit
   weights are widened eight bytes at a time. In float32
   throughout, as MLX's own kernel, so only the order of the additions differs from it.
   mlxfn/engine/matvec.py builds this file with the machine's C compiler (-O3 -march=native)
   into mlxfn's cache and calls it with ctypes; without AVX2 and FMA the plain loops do the
   same work. Products of many rows are not for this file: MLX hands them to sgemm.
*/
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define MLXFN_AVX2 1
#endif

#define GROUP 32
#define MAX_ROWS 16
#define MAX_THREADS 8

int mlxfn_qmv_version(void) { return 5; }

int mlxfn_qmv_simd(void) {
#ifdef MLXFN_AVX2
    return 1;
#else
    return 0;
#endif
}

/* ---- reordering x for 4 bits: xp holds, for each block of eight words (four for the last
   group of an odd count), value j of every word side by side: xp[j * lanes + w] = x[w * 8 + j].
   8-bit weights are read byte by byte, in x's own order. ---- */
static void reorder(const float *x, float *xp, int K, int bits) {
    const int per_word = 32 / bits;
    if (bits == 8) { memcpy(xp, x, sizeof(float) * (size_t)K); return; }
    int start = 0;
    while (start < K) {
        const int block = K - start >= 8 * per_word ? 8 * per_word : K - start;
        const int lanes = block / per_word;
        for (int w = 0; w < lanes; w++)
            for (int j = 0; j < per_word; j++) xp[start + j * lanes + w] = x[start + w * per_word + j];
        start += block;
    }
}

#ifdef MLXFN_AVX2
static inline float hsum256(__m256 v) {
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}
static inline float hsum128(__m128 lo) {
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}
#endif

/* rows [n0, n1) of y = x @ W.T; xp is x reordered, xsum each group's sum of x */
static void qmv_rows(int bits, const float *xp, const float *xsum, int M, int K, const uint32_t *w,
                     const float *scales, const float *biases, float *y, int N, int n0, int n1) {
    const int groups = K / GROUP, per_word = 32 / bits, words = K / per_word;
    const uint32_t mask = (1u << bits) - 1;
    for (int n = n0; n < n1; n++) {
        const uint32_t *row = w + (size_t)n * words;
        const float *s = scales + (size_t)n * groups, *b = biases + (size_t)n * groups;
        float total[MAX_ROWS];
        for (int m = 0; m < M; m++) {
            float bias_total = 0.f;
            const float *xs = xsum + (size_t)m * groups;
            for (int g = 0; g < groups; g++) bias_total += b[g] * xs[g];
            total[m] = bias_total;
        }
        int col = 0; /* the first value of the current block of eight words */
#ifdef MLXFN_AVX2
        const int block = 8 * per_word;
        __m256 acc[MAX_ROWS];
        for (int m = 0; m < M; m++) acc[m] = _mm256_setzero_ps();
        const __m256i lanes_mask = _mm256_set1_epi32((int)mask);
        if (bits == 4) {
            const __m256i halves = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
            for (; col + block <= K; col += block) { /* 64 values: two groups */
                __m256i v = _mm256_loadu_si256((const __m256i *)(row + col / 8));
                __m256 q[8];
                for (int j = 0; j < 8; j++)
                    q[j] = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(v, 4 * j), lanes_mask));
                __m256 sv = _mm256_permutevar8x32_ps(
                    _mm256_castps128_ps256(_mm_castpd_ps(_mm_load_sd((const double *)(s + col / GROUP)))), halves);
                for (int m = 0; m < M; m++) {
                    const float *xg = xp + (size_t)m * K + col;
                    __m256 d = _mm256_mul_ps(q[0], _mm256_loadu_ps(xg));
                    for (int j = 1; j < 8; j++) d = _mm256_fmadd_ps(q[j], _mm256_loadu_ps(xg + 8 * j), d);
                    acc[m] = _mm256_fmadd_ps(d, sv, acc[m]);
                }
            }
            if (col < K) { /* one group left: four words */
                __m128i v = _mm_loadu_si128((const __m128i *)(row + col / 8));
                __m128 sv = _mm_set1_ps(s[col / GROUP]);
                for (int m = 0; m < M; m++) {
                    const float *xg = xp + (size_t)m * K + col;
                    __m128 d = _mm_setzero_ps();
                    for (int j = 0; j < 8; j++)
                        d = _mm_fmadd_ps(_mm_cvtepi32_ps(_mm_and_si128(_mm_srli_epi32(v, 4 * j), _mm_set1_epi32(15))),
                                         _mm_loadu_ps(xg + 4 * j), d);
                    total[m] += hsum128(_mm_mul_ps(d, sv));
                }
                col = K;
            }
        } else { /* 8 bits: a group is 32 bytes, x in its own order */
            for (; col + GROUP <= K; col += GROUP) {
                const uint8_t *bytes = (const uint8_t *)(row + col / 4);
                __m256 q[4];
                for (int j = 0; j < 4; j++)
                    q[j] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(bytes + 8 * j))));
                __m256 sv = _mm256_set1_ps(s[col / GROUP]);
                for (int m = 0; m < M; m++) {
                    const float *xg = xp + (size_t)m * K + col;
                    __m256 d = _mm256_mul_ps(q[0], _mm256_loadu_ps(xg));
                    for (int j = 1; j < 4; j++) d = _mm256_fmadd_ps(q[j], _mm256_loadu_ps(xg + 8 * j), d);
                    acc[m] = _mm256_fmadd_ps(d, sv, acc[m]);
                }
            }
        }
        for (int m = 0; m < M; m++) total[m] += hsum256(acc[m]);
#endif
        /* plain C: what is left (everything, without AVX2), in the same reordered x */
        for (; col < K; col += GROUP) {
            const int block = K - (col / (8 * per_word)) * (8 * per_word) >= 8 * per_word ? 8 * per_word
                              : K - (col / (8 * per_word)) * (8 * per_word);
            const int base = (col / (8 * per_word)) * (8 * per_word), lanes = block / per_word;
            for (int m = 0; m < M; m++) {
                const float *xg = xp + (size_t)m * K + base;
                float d = 0.f;
                for (int i = col - base; i < col - base + GROUP; i++) { /* value i of the block */
                    const int word = i / per_word, j = i % per_word;
                    const uint32_t q = (row[(base + i) / per_word] >> (bits * j)) & mask;
                    d += (float)q * (bits == 4 ? xg[j * lanes + word] : xg[i]);
                }
                total[m] += s[col / GROUP] * d;
            }
        }
        for (int m = 0; m < M; m++) y[(size_t)m * N + n] = total[m];
    }
}

/* ---- a small pool: workers wait spinning for a while, then sleep ---- */
typedef struct {
    int bits, M, K, N, threads;
    const float *xp, *xsum, *scales, *biases;
    const uint32_t *w;
    float *y;
} job_t;

static job_t pool_job;
static atomic_int pool_generation, pool_pending;
static int pool_size; /* workers started, besides the caller */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER, call_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER, pool_done = PTHREAD_COND_INITIALIZER;
static atomic_int caller_sleeping;
static int spin_limit = 4000;

static void run_share(const job_t *j, int t) {
    int n0 = (int)((long)j->N * t / j->threads), n1 = (int)((long)j->N * (t + 1) / j->threads);
    qmv_rows(j->bits, j->xp, j->xsum, j->M, j->K, j->w, j->scales, j->biases, j->y, j->N, n0, n1);
}

static void *worker(void *arg) {
    const int t = (int)(intptr_t)arg;
    int seen = 0;
    for (;;) {
        int spins = 0, now;
        while ((now = atomic_load_explicit(&pool_generation, memory_order_acquire)) == seen) {
            if (++spins < spin_limit) {
#ifdef MLXFN_AVX2
                _mm_pause();
#endif
                continue;
            }
            pthread_mutex_lock(&pool_lock);
            while (atomic_load(&pool_generation) == seen) pthread_cond_wait(&pool_wake, &pool_lock);
            pthread_mutex_unlock(&pool_lock);
        }
        seen = now;
        if (t < pool_job.threads) run_share(&pool_job, t);
        if (atomic_fetch_sub(&pool_pending, 1) == 1 && atomic_load(&caller_sleeping)) {
            pthread_mutex_lock(&pool_lock);
            pthread_cond_signal(&pool_done);
            pthread_mutex_unlock(&pool_lock);
        }
    }
    return NULL;
}

static int ensure_pool(int threads) {
    while (pool_size < threads - 1 && pool_size < MAX_THREADS - 1) {
        pthread_t id;
        if (pthread_create(&id, NULL, worker, (void *)(intptr_t)(pool_size + 1)) != 0) break;
        pthread_detach(id);
        pool_size++;
    }
    return pool_size + 1;
}

/* how long (in pause instructions) an idle worker spins before it sleeps */
void mlxfn_qmv_set_spin(int spins) { spin_limit = spins; }

/* y (M x N) = x (M x K) @ W.T for W of `bits` 4 or 8, group 32, float32 scales and biases.
   `threads` > 1 splits W's rows among that many threads, the caller one of them.
   Returns 0, or -1 for what it does not take (M > 16, K not a multiple of 32, other bits). */
int mlxfn_qmv(int bits, const float *x, int M, int K, const uint32_t *w, const float *scales,
              const float *biases, int N, float *y, int threads) {
    if (M < 1 || M > MAX_ROWS || K % GROUP != 0 || (bits != 4 && bits != 8) || N < 1) return -1;
    const int groups = K / GROUP;
    float *buffer = (float *)malloc(sizeof(float) * ((size_t)M * K + (size_t)M * groups));
    if (!buffer) return -1;
    float *xsum = buffer + (size_t)M * K;
    for (int m = 0; m < M; m++) {
        reorder(x + (size_t)m * K, buffer + (size_t)m * K, K, bits);
        for (int g = 0; g < groups; g++) {
            float total = 0.f;
            for (int j = 0; j < GROUP; j++) total += x[(size_t)m * K + g * GROUP + j];
            xsum[(size_t)m * groups + g] = total;
        }
    }
    job_t job = {bits, M, K, N, 1, buffer, xsum, scales, biases, w, y};
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    if (threads > 1 && N >= 64 && pthread_mutex_trylock(&call_lock) == 0) {
        job.threads = ensure_pool(threads) < threads ? pool_size + 1 : threads;
        if (job.threads > 1) {
            pool_job = job;
            atomic_store(&pool_pending, pool_size);
            pthread_mutex_lock(&pool_lock);
            atomic_fetch_add_explicit(&pool_generation, 1, memory_order_release);
            pthread_cond_broadcast(&pool_wake);
            pthread_mutex_unlock(&pool_lock);
            run_share(&job, 0);
            /* spin a little, then sleep: on a loaded machine a descheduled worker must not
               cost the caller a whole time slice of spinning */
            for (int spins = 0; atomic_load_explicit(&pool_pending, memory_order_acquire) > 0; spins++) {
                if (spins < spin_limit) {
#ifdef MLXFN_AVX2
                    _mm_pause();
#endif
                    continue;
                }
                pthread_mutex_lock(&pool_lock);
                atomic_store(&caller_sleeping, 1);
                while (atomic_load(&pool_pending) > 0) pthread_cond_wait(&pool_done, &pool_lock);
                atomic_store(&caller_sleeping, 0);
                pthread_mutex_unlock(&pool_lock);
            }
        } else {
            run_share(&job, 0);
        }
        pthread_mutex_unlock(&call_lock);
    } else {
        job.threads = 1;
        run_share(&job, 0);
    }
    free(buffer);
    return 0;
}
