"""Read back every Parquet object under s3://BUCKET/PREFIX/ from an S3 endpoint with pyarrow.

    python parquet_objects.py ENDPOINT BUCKET PREFIX    (keys in AWS_ACCESS_KEY_ID,
                                                         AWS_SECRET_ACCESS_KEY, AWS_REGION)

Prints one JSON document: {"objects": [{"key", "rows", "columns": [[name, type], ...],
"values": {column: [...]}}]}, keys sorted; values only for integer columns (ids).
"""

import json
import os
import sys
from urllib.parse import urlparse

import pyarrow.fs
import pyarrow.parquet as pq


def main() -> None:
    endpoint, bucket, prefix = sys.argv[1:4]
    url = urlparse(endpoint)
    s3 = pyarrow.fs.S3FileSystem(
        access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region=os.environ["AWS_REGION"],
        endpoint_override=url.netloc,
        scheme=url.scheme,
    )
    selector = pyarrow.fs.FileSelector(f"{bucket}/{prefix}", recursive=True, allow_not_found=True)
    objects = []
    for info in sorted(s3.get_file_info(selector), key=lambda info: info.path):
        if info.type != pyarrow.fs.FileType.File:
            continue
        # The file alone: read_table would add the hive partitions of its key as columns.
        with s3.open_input_file(info.path) as file:
            table = pq.ParquetFile(file).read()
        objects.append(
            {
                "key": info.path[len(bucket) + 1 :],
                "rows": table.num_rows,
                "columns": [[field.name, str(field.type)] for field in table.schema],
                "values": {
                    field.name: table.column(field.name).to_pylist()
                    for field in table.schema
                    if str(field.type).startswith("int")
                },
            }
        )
    json.dump({"objects": objects}, sys.stdout)


main()
