from awsloop import aws, moto_url

__all__ = ["aws", "moto_url"]
