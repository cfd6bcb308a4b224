from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="Presence",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("channel_name", models.CharField(max_length=255, unique=True)),
                ("room", models.CharField(max_length=64)),
                ("name", models.CharField(max_length=150)),
                ("seen", models.DateTimeField()),
            ],
            options={
                "indexes": [
                    models.Index(fields=["room", "seen"], name="chat_presence_room_seen"),
                ],
            },
        ),
    ]
