from alsmicroct.cli.spot import main

if __name__ == "__main__":
    raise SystemExit(main())
