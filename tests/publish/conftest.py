from awsloop import aws, moto_url
from bundleloop import identity, s3

__all__ = ["aws", "identity", "moto_url", "s3"]
