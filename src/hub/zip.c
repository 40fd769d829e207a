/*
 * zip.c — `.mlmodelc.zip` extraction that cannot write outside its directory.
 *
 * Entries are refused when their name is absolute or has a "." or ".." component,
 * when a path goes through a symlink made by an earlier entry, and when a symlink's
 * target, read relative to the link's own directory, would leave the root. Files are
 * created with O_EXCL|O_NOFOLLOW. Everything is written into a fresh temporary
 * directory beside the destination, which is renamed into place only when the whole
 * archive was extracted: readers see the complete directory or nothing.
 * macOS resource-fork entries (__MACOSX/) are skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zip.h>

#include "common/file.h"
#include "hub_internal.h"

/* Symlink target check, lexical: from the directory of `name` (inside the root),
 * following `target` must never climb above the root. */
int hub_zip_link_safe(const char *name, const char *target)
{
    if (!*target || target[0] == '/' || strlen(target) > 1024)
        return 0;
    int depth = 0;
    for (const char *c = name; *c; c++)
        depth += *c == '/' && c[1] != '\0';
    const char *p = target;
    while (*p) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (--depth < 0)
                return 0;
        } else if (n == 1 && p[0] == '.') {
        } else if (n > 0) {
            depth++;
        }
        p += n;
        while (*p == '/')
            p++;
    }
    return 1;
}

/* No existing component of rel (below root) may be a symlink. */
static int through_link(const char *root, const char *rel)
{
    char p[PATH_MAX];
    size_t rl = strlen(root);
    if (rl + 1 + strlen(rel) >= sizeof p)
        return 1;
    memcpy(p, root, rl);
    p[rl] = '/';
    strcpy(p + rl + 1, rel);
    for (char *s = p + rl + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        struct stat st;
        int is_link = lstat(p, &st) == 0 && S_ISLNK(st.st_mode);
        *s = '/';
        if (is_link)
            return 1;
    }
    return 0;
}

static int mkdirs_below(const char *root, const char *rel, an_error *err)
{
    char p[PATH_MAX];
    hub_pathf(p, sizeof p, "%s/%s", root, rel);
    return an_mkdir_p(p, 0755, err);
}

static int extract_entry(zip_t *za, zip_int64_t i, const char *name, const char *root,
                         const char *zip_path, an_error *err)
{
    size_t nl = strlen(name);
    if (!hub_relpath_safe(name))
        return an_errorf(err, "%s: unsafe entry '%.200s' (absolute or with '..'); refused to extract",
                         zip_path, name),
               HUB_ERR_UNSAFE;
    if (through_link(root, name))
        return an_errorf(err, "%s: entry '%.200s' goes through a symbolic link; refused to extract",
                         zip_path, name),
               HUB_ERR_UNSAFE;
    if (name[nl - 1] == '/') {
        char *d = strndup(name, nl - 1);
        int r = d ? mkdirs_below(root, d, err) : an_errorf(err, "out of memory");
        free(d);
        return r;
    }
    zip_uint8_t opsys;
    zip_uint32_t attr = 0;
    int is_link = 0;
    if (zip_file_get_external_attributes(za, (zip_uint64_t)i, 0, &opsys, &attr) == 0 &&
        opsys == ZIP_OPSYS_UNIX)
        is_link = S_ISLNK((mode_t)(attr >> 16));
    const char *slash = strrchr(name, '/');
    if (slash) {
        char *d = strndup(name, (size_t)(slash - name));
        int r = d ? mkdirs_below(root, d, err) : an_errorf(err, "out of memory");
        free(d);
        if (r != 0)
            return -1;
    }
    zip_stat_t zs;
    if (zip_stat_index(za, (zip_uint64_t)i, 0, &zs) != 0 || !(zs.valid & ZIP_STAT_SIZE))
        return an_errorf(err, "%s: cannot read entry '%.200s'", zip_path, name);
    zip_file_t *zf = zip_fopen_index(za, (zip_uint64_t)i, 0);
    if (!zf)
        return an_errorf(err, "%s: cannot open entry '%.200s': %s", zip_path, name, zip_strerror(za));
    char path[PATH_MAX];
    hub_pathf(path, sizeof path, "%s/%s", root, name);
    int rc = 0;
    if (is_link) {
        char target[1025];
        zip_int64_t n = zs.size <= 1024 ? zip_fread(zf, target, zs.size) : -1;
        if (n < 0 || (zip_uint64_t)n != zs.size) {
            rc = an_errorf(err, "%s: bad symbolic link entry '%.200s'", zip_path, name);
        } else {
            target[n] = '\0';
            if (strlen(target) != (size_t)n || !hub_zip_link_safe(name, target)) {
                an_errorf(err, "%s: link '%.200s' points outside the archive ('%.200s'); refused",
                          zip_path, name, target);
                rc = HUB_ERR_UNSAFE;
            }
            else if (symlink(target, path) != 0)
                rc = an_errorf(err, "%s: %s", path, strerror(errno));
        }
        zip_fclose(zf);
        return rc;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        zip_fclose(zf);
        return an_errorf(err, "%s: cannot create: %s", path, strerror(errno));
    }
    char buf[1 << 16];
    zip_uint64_t total = 0;
    for (;;) {
        zip_int64_t n = zip_fread(zf, buf, sizeof buf);
        if (n < 0) {
            rc = an_errorf(err, "%s: entry '%.200s' is damaged: %s", zip_path, name,
                           zip_file_strerror(zf));
            break;
        }
        if (n == 0)
            break;
        total += (zip_uint64_t)n;
        if (total > zs.size) {
            rc = an_errorf(err, "%s: entry '%.200s' is longer than it says", zip_path, name);
            break;
        }
        for (zip_int64_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = an_errorf(err, "%s: write failed: %s", path, strerror(errno));
                if (errno == ENOSPC)
                    rc = HUB_ERR_DISK;
                break;
            }
            off += w;
        }
        if (rc)
            break;
    }
    zip_fclose(zf);
    if (close(fd) != 0 && rc == 0)
        rc = an_errorf(err, "%s: %s", path, strerror(errno));
    return rc;
}

int hub_zip_extract(const char *zip_path, const char *dest, an_error *err)
{
    if (an_is_dir(dest))
        return 0;
    char tmp[PATH_MAX];
    hub_pathf(tmp, sizeof tmp, "%s.tmp.%d.XXXXXX", dest, (int)getpid());
    char *slash = strrchr(tmp, '/');
    if (slash) {
        *slash = '\0';
        if (an_mkdir_p(tmp, 0755, err) != 0)
            return -1;
        *slash = '/';
    }
    if (!mkdtemp(tmp))
        return an_errorf(err, "%s: cannot create a temporary directory: %s", dest, strerror(errno));
    int zerr = 0;
    zip_t *za = zip_open(zip_path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    int rc = 0;
    if (!za) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        rc = an_errorf(err, "%s: not a valid zip archive: %s", zip_path, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        hub_rm_rf(tmp);
        return rc;
    }
    zip_int64_t n = zip_get_num_entries(za, 0);
    for (zip_int64_t i = 0; i < n && rc == 0; i++) {
        const char *name = zip_get_name(za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        if (!name) {
            rc = an_errorf(err, "%s: entry %lld has no name", zip_path, (long long)i);
            break;
        }
        if (strncmp(name, "__MACOSX/", 9) == 0)
            continue;
        rc = extract_entry(za, i, name, tmp, zip_path, err);
    }
    zip_discard(za);
    if (rc == 0 && rename(tmp, dest) != 0) {
        if (an_is_dir(dest)) /* another process finished first: theirs is as good */
            hub_rm_rf(tmp);
        else
            rc = an_errorf(err, "%s: cannot rename into place: %s", dest, strerror(errno));
    }
    if (rc != 0)
        hub_rm_rf(tmp);
    return rc;
}
