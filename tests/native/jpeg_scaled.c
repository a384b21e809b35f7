/* Decodes a JPEG file COUNT times as lutrun's MJPEG path does (grey, DCT-scaled by 1/SCALE: what OpenCV's
 * IMREAD_REDUCED_GRAYSCALE_* asks of libjpeg), so that apps/arm_instructions.py can count libjpeg's
 * instructions per frame on the boards' cores under qemu-user: count(2) - count(1).
 * Prints the decoded width, height and a checksum of two pixels a row. */
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s FILE.jpg COUNT SCALE\n", argv[0]);
        return 2;
    }
    FILE *file = fopen(argv[1], "rb");
    if (!file) {
        perror(argv[1]);
        return 1;
    }
    fseek(file, 0, SEEK_END);
    const long size = ftell(file);
    rewind(file);
    unsigned char *data = malloc((size_t)size);
    if (!data || fread(data, 1, (size_t)size, file) != (size_t)size) {
        fprintf(stderr, "%s: cannot read\n", argv[1]);
        return 1;
    }
    fclose(file);
    const int count = atoi(argv[2]), scale = atoi(argv[3]);
    struct jpeg_decompress_struct jpeg;
    struct jpeg_error_mgr errors;
    jpeg.err = jpeg_std_error(&errors);
    jpeg_create_decompress(&jpeg);
    unsigned int checksum = 0;
    unsigned char *row = NULL;
    for (int i = 0; i < count; i++) {
        jpeg_mem_src(&jpeg, data, (unsigned long)size);
        jpeg_read_header(&jpeg, TRUE);
        jpeg.out_color_space = JCS_GRAYSCALE;
        jpeg.scale_num = 1;
        jpeg.scale_denom = (unsigned int)scale;
        jpeg_start_decompress(&jpeg);
        row = realloc(row, jpeg.output_width);
        while (jpeg.output_scanline < jpeg.output_height) {
            JSAMPROW rows[1] = {row};
            jpeg_read_scanlines(&jpeg, rows, 1);
            checksum = checksum * 31 + row[0] + row[jpeg.output_width / 2];  /* cheap beside the decode */
        }
        jpeg_finish_decompress(&jpeg);
    }
    printf("%u %u %u\n", jpeg.output_width, jpeg.output_height, checksum);
    jpeg_destroy_decompress(&jpeg);
    free(row);
    free(data);
    return 0;
}
