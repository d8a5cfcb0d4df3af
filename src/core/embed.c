/*
 * embed.c — lookup in the generated table of embedded files.
 */
#include <string.h>

#include "core/embed.h"

const struct embed_file *
embed_find(const char *name)
{
	size_t	i;

	for (i = 0; i < embed_nfiles; i++)
		if (strcmp(embed_files[i].ef_name, name) == 0)
			return &embed_files[i];
	return NULL;
}
